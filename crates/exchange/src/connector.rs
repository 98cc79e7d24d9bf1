//! Connectors: how the exchange reaches a dataset in its island.
//!
//! Each published dataset has one [`ConnectorConfig`], written in TOML: what kind of database
//! (SQLite, PostgreSQL or a CSV file), where it is, which table, and which island column holds
//! each field of the dataset's schema in the unified standard (by default the column of the
//! same name). [`Islands`] opens the connectors and resolves subjects: rows keyed by a local
//! identifier (a student number, a birth-certificate number) are found through the dataset the
//! standard names as the one that maps that identifier to a person (`SubjectLink::Via`).
//!
//! SQLite islands are opened read-only; PostgreSQL islands are read with `SELECT` only. Column
//! and table names are checked as plain SQL identifiers and quoted, never spliced in as given.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use errandless_standards::{Dataset, ElementType, Standard, SubjectLink};
use serde::{Deserialize, Serialize};

/// Which kind of database holds a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    Sqlite,
    Postgres,
    Csv,
}

/// The TOML configuration of one dataset's connector.
///
/// ```toml
/// [[connector]]
/// dataset = "education.admission"
/// kind = "sqlite"                        # sqlite | postgres | csv
/// location = "islands/education.sqlite"  # a file path, or a postgres:// URL
/// table = "admission"                    # default: the standard's table name
/// [connector.columns]                    # standard field = island column; default: same name
/// student_no = "xh"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// The dataset's identifier in the unified standard.
    pub dataset: String,
    pub kind: ConnectorKind,
    /// A file path (relative paths are taken from the configuration's directory) or, for
    /// PostgreSQL, a `postgres://` URL.
    pub location: String,
    /// The island table; the standard's table name if absent. Unused for CSV.
    #[serde(default)]
    pub table: Option<String>,
    /// The PostgreSQL schema that holds the table; the connection's search path if absent.
    #[serde(default)]
    pub schema: Option<String>,
    /// Standard field name → island column, for the fields whose column is named otherwise.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// A file of connector configurations: `[[connector]]` tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IslandsConfig {
    #[serde(default)]
    pub connector: Vec<ConnectorConfig>,
}

impl IslandsConfig {
    /// Parses a configuration file's text; errors name the line and column.
    pub fn parse(text: &str) -> Result<IslandsConfig, ConnectorError> {
        toml::from_str(text).map_err(|e| ConnectorError::MalformedConfig(e.to_string()))
    }

    /// The connectors of the synthetic province's islands in `data_dir`: every dataset of the
    /// 17 island departments, read from `islands/<department>.sqlite` under the standard's own
    /// table and column names.
    pub fn synthetic(data_dir: &Path) -> IslandsConfig {
        let standard = Standard::builtin();
        let connector = standard
            .islands()
            .flat_map(|d| standard.datasets_of(&d.id))
            .map(|ds| ConnectorConfig {
                dataset: ds.id.clone(),
                kind: ConnectorKind::Sqlite,
                location: data_dir
                    .join("islands")
                    .join(format!("{}.sqlite", ds.department))
                    .display()
                    .to_string(),
                table: None,
                schema: None,
                columns: BTreeMap::new(),
            })
            .collect();
        IslandsConfig { connector }
    }
}

/// One value read from an island, typed as its element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// One row of a dataset: standard field name → value, holding only the fields asked for.
pub type Row = BTreeMap<String, FieldValue>;

/// A connector could not be configured, opened or read.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("malformed connector configuration: {0}")]
    MalformedConfig(String),
    #[error("dataset {0:?} is not in the unified data standard")]
    UnknownDataset(String),
    #[error("dataset {0:?} has two connectors")]
    DuplicateConnector(String),
    #[error("dataset {dataset:?} has no field {field:?}")]
    UnknownField { dataset: String, field: String },
    #[error("{0:?} is not a plain SQL identifier (letters, digits and '_')")]
    BadIdentifier(String),
    #[error("dataset {dataset:?} is read through {via:?}, which has no connector")]
    MissingVia { dataset: String, via: String },
    #[error("dataset {0:?} has no connector")]
    NotPublished(String),
    #[error("the island of {dataset} at {location} cannot be opened or read: {reason}")]
    Island {
        dataset: String,
        location: String,
        reason: String,
    },
    #[error(
        "column {column:?} of dataset {dataset:?} has type {ty}, which the exchange does not read"
    )]
    UnsupportedColumnType {
        dataset: String,
        column: String,
        ty: String,
    },
}

/// An open connection to one dataset.
pub struct Connector {
    dataset: &'static Dataset,
    location: String,
    /// Standard field → quoted island column, in the standard's field order.
    columns: Vec<(String, String)>,
    source: Source,
}

enum Source {
    Sqlite {
        conn: Mutex<rusqlite::Connection>,
        table: String,
    },
    Postgres {
        pool: sqlx::PgPool,
        table: String,
        /// The server's URL, for a bulk scan on a connection of its own.
        url: String,
    },
    Csv(CsvTable),
}

struct CsvTable {
    /// Island column name → position.
    header: HashMap<String, usize>,
    records: Vec<csv::StringRecord>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("dataset", &self.dataset.id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Opens the dataset's island, with relative file paths taken from `base`, and checks that
    /// every mapped column is there.
    pub async fn open(config: &ConnectorConfig, base: &Path) -> Result<Connector, ConnectorError> {
        let standard = Standard::builtin();
        let dataset = standard
            .dataset(&config.dataset)
            .ok_or_else(|| ConnectorError::UnknownDataset(config.dataset.clone()))?;
        for field in config.columns.keys() {
            if dataset.field(field).is_none() {
                return Err(ConnectorError::UnknownField {
                    dataset: dataset.id.clone(),
                    field: field.clone(),
                });
            }
        }
        let mut columns = Vec::with_capacity(dataset.fields.len());
        for f in &dataset.fields {
            let column = config.columns.get(&f.name).unwrap_or(&f.name);
            columns.push((f.name.clone(), column.clone()));
        }
        let table = config
            .table
            .clone()
            .unwrap_or_else(|| dataset.table.clone());
        let location = match config.kind {
            ConnectorKind::Postgres => errandless_store::redact(&config.location),
            _ => config.location.clone(),
        };
        let island_error = |reason: String| ConnectorError::Island {
            dataset: dataset.id.clone(),
            location: location.clone(),
            reason,
        };
        let source = match config.kind {
            ConnectorKind::Sqlite => {
                let path = resolve(base, &config.location);
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(&path, flags)
                    .map_err(|e| island_error(e.to_string()))?;
                let table = quote(&table)?;
                let select = select_list(&columns)?;
                conn.prepare(&format!("SELECT {select} FROM {table} LIMIT 0"))
                    .map_err(|e| island_error(e.to_string()))?;
                Source::Sqlite {
                    conn: Mutex::new(conn),
                    table,
                }
            }
            ConnectorKind::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&config.location)
                    .await
                    .map_err(|e| island_error(e.to_string()))?;
                let table = match &config.schema {
                    Some(s) => format!("{}.{}", quote(s)?, quote(&table)?),
                    None => quote(&table)?,
                };
                let select = select_list(&columns)?;
                sqlx::query(&format!("SELECT {select} FROM {table} LIMIT 0"))
                    .execute(&pool)
                    .await
                    .map_err(|e| island_error(e.to_string()))?;
                Source::Postgres {
                    pool,
                    table,
                    url: config.location.clone(),
                }
            }
            ConnectorKind::Csv => {
                let path = resolve(base, &config.location);
                let mut reader = csv::ReaderBuilder::new()
                    .from_path(&path)
                    .map_err(|e| island_error(e.to_string()))?;
                let header: HashMap<String, usize> = reader
                    .headers()
                    .map_err(|e| island_error(e.to_string()))?
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.trim().to_owned(), i))
                    .collect();
                if let Some((_, c)) = columns.iter().find(|(_, c)| !header.contains_key(c)) {
                    return Err(island_error(format!("no column {c:?} in the header")));
                }
                let records = reader
                    .records()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| island_error(e.to_string()))?;
                Source::Csv(CsvTable { header, records })
            }
        };
        Ok(Connector {
            dataset,
            location,
            columns,
            source,
        })
    }

    /// The dataset this connector reads.
    pub fn dataset(&self) -> &'static Dataset {
        self.dataset
    }

    /// The rows whose `field` equals one of `values`, holding only `fields` (standard field
    /// names, each of which must belong to the dataset).
    pub async fn rows_where(
        &self,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Row>, ConnectorError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let column = self.column(field)?;
        let wanted: Vec<(&str, &str, ElementType)> = fields
            .iter()
            .map(|f| Ok((f.as_str(), self.column(f)?, self.element_type(f))))
            .collect::<Result<_, ConnectorError>>()?;
        let island_error = |reason: String| ConnectorError::Island {
            dataset: self.dataset.id.clone(),
            location: self.location.clone(),
            reason,
        };
        match &self.source {
            Source::Sqlite { conn, table } => {
                let select = quoted_list(wanted.iter().map(|w| w.1))?;
                let marks = vec!["?"; values.len()].join(", ");
                let sql = format!(
                    "SELECT {select} FROM {table} WHERE {} IN ({marks})",
                    quote(column)?
                );
                let conn = conn
                    .lock()
                    .map_err(|_| island_error("a reader panicked".into()))?;
                let mut stmt = conn
                    .prepare_cached(&sql)
                    .map_err(|e| island_error(e.to_string()))?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(|e| island_error(e.to_string()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(|e| island_error(e.to_string()))? {
                    let mut row = Row::new();
                    for (i, (name, _, _)) in wanted.iter().enumerate() {
                        let v = r.get_ref(i).map_err(|e| island_error(e.to_string()))?;
                        row.insert((*name).to_owned(), from_sqlite(v));
                    }
                    out.push(row);
                }
                Ok(out)
            }
            Source::Postgres { pool, table, .. } => {
                let select = if wanted.is_empty() {
                    "1".to_owned()
                } else {
                    quoted_list(wanted.iter().map(|w| w.1))?
                };
                let sql = format!(
                    "SELECT {select} FROM {table} WHERE {}::text = ANY($1)",
                    quote(column)?
                );
                let rows = sqlx::query(&sql)
                    .bind(values)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| island_error(e.to_string()))?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut row = Row::new();
                    for (i, (name, col, _)) in wanted.iter().enumerate() {
                        row.insert((*name).to_owned(), self.read_postgres(r, i, col)?);
                    }
                    out.push(row);
                }
                Ok(out)
            }
            Source::Csv(t) => {
                let key = t.header[column];
                Ok(t.records
                    .iter()
                    .filter(|r| r.get(key).is_some_and(|v| values.iter().any(|x| x == v)))
                    .map(|r| {
                        wanted
                            .iter()
                            .map(|(name, col, ty)| {
                                let text = r.get(t.header[*col]).unwrap_or("");
                                ((*name).to_owned(), from_text(text, *ty))
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    fn column(&self, field: &str) -> Result<&str, ConnectorError> {
        self.columns
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, c)| c.as_str())
            .ok_or_else(|| ConnectorError::UnknownField {
                dataset: self.dataset.id.clone(),
                field: field.to_owned(),
            })
    }

    fn element_type(&self, field: &str) -> ElementType {
        self.dataset
            .field(field)
            .and_then(|f| Standard::builtin().element(&f.element))
            .map_or(ElementType::String, |e| e.ty)
    }

    fn read_postgres(
        &self,
        row: &sqlx::postgres::PgRow,
        i: usize,
        column: &str,
    ) -> Result<FieldValue, ConnectorError> {
        postgres_value(row, i).map_err(|e| match e {
            PgValueError::Read(e) => ConnectorError::Island {
                dataset: self.dataset.id.clone(),
                location: self.location.clone(),
                reason: e.to_string(),
            },
            PgValueError::Unsupported(ty) => ConnectorError::UnsupportedColumnType {
                dataset: self.dataset.id.clone(),
                column: column.to_owned(),
                ty,
            },
        })
    }

    /// An owned reader of every row of the dataset, ordered by subject, for a bulk sync on a
    /// thread of its own (see [`Scan`]). `subject` is the island column that names the subject
    /// (already quoted), `from` the table expression, and `fields` the standard fields to read.
    fn scan_from(
        &self,
        subject: &str,
        from: &str,
        fields: &[String],
    ) -> Result<Scan, ConnectorError> {
        let wanted: Vec<(String, ElementType)> = fields
            .iter()
            .map(|f| Ok((self.column(f)?.to_owned(), self.element_type(f))))
            .collect::<Result<_, ConnectorError>>()?;
        let mut select = vec![subject.to_owned()];
        for (c, _) in &wanted {
            select.push(format!("t.{}", quote(c)?));
        }
        let select = select.join(", ");
        let island_error = |reason: String| ConnectorError::Island {
            dataset: self.dataset.id.clone(),
            location: self.location.clone(),
            reason,
        };
        let kind = match &self.source {
            Source::Sqlite { conn, .. } => {
                let conn = conn
                    .lock()
                    .map_err(|_| island_error("a reader panicked".into()))?;
                let path = conn
                    .path()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| island_error("the island is not a file".into()))?;
                ScanKind::Sqlite {
                    path: PathBuf::from(path),
                    sql: format!("SELECT {select} FROM {from} ORDER BY 1"),
                    count: format!("SELECT COUNT(*) FROM {from}"),
                }
            }
            Source::Postgres { url, .. } => ScanKind::Postgres {
                url: url.clone(),
                sql: format!(
                    "SELECT {subject}::text, {} FROM {from} ORDER BY {subject}::text COLLATE \"C\"",
                    if wanted.is_empty() {
                        "1".to_owned()
                    } else {
                        wanted
                            .iter()
                            .map(|(c, _)| Ok(format!("t.{}", quote(c)?)))
                            .collect::<Result<Vec<_>, ConnectorError>>()?
                            .join(", ")
                    }
                ),
                count: format!("SELECT COUNT(*) FROM {from}"),
            },
            Source::Csv(_) => {
                return Err(island_error("a CSV island is scanned in memory".into()));
            }
        };
        Ok(Scan {
            dataset: self.dataset.id.clone(),
            location: self.location.clone(),
            kind,
        })
    }

    fn csv_scan(&self, subject_field: &str, fields: &[String]) -> Result<Scan, ConnectorError> {
        let Source::Csv(t) = &self.source else {
            return Err(ConnectorError::NotPublished(self.dataset.id.clone()));
        };
        let key = t.header[self.column(subject_field)?];
        let wanted: Vec<(usize, ElementType)> = fields
            .iter()
            .map(|f| Ok((t.header[self.column(f)?], self.element_type(f))))
            .collect::<Result<_, ConnectorError>>()?;
        let mut rows: Vec<Vec<FieldValue>> = t
            .records
            .iter()
            .map(|r| {
                let mut row = vec![from_text(r.get(key).unwrap_or(""), ElementType::String)];
                row.extend(
                    wanted
                        .iter()
                        .map(|(i, ty)| from_text(r.get(*i).unwrap_or(""), *ty)),
                );
                row
            })
            .collect();
        rows.sort_by(|a, b| text_key(&a[0]).cmp(&text_key(&b[0])));
        Ok(Scan {
            dataset: self.dataset.id.clone(),
            location: self.location.clone(),
            kind: ScanKind::Memory(rows),
        })
    }

    fn is_csv(&self) -> bool {
        matches!(self.source, Source::Csv(_))
    }

    fn sqlite_path(&self) -> Option<String> {
        match &self.source {
            Source::Sqlite { conn, .. } => conn.lock().ok()?.path().map(str::to_owned),
            _ => None,
        }
    }

    fn table(&self) -> Option<&str> {
        match &self.source {
            Source::Sqlite { table, .. } | Source::Postgres { table, .. } => Some(table),
            Source::Csv(_) => None,
        }
    }
}

/// The sort key of a subject value.
fn text_key(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(t) => t.clone(),
        FieldValue::Integer(n) => n.to_string(),
        FieldValue::Real(r) => r.to_string(),
        FieldValue::Null => String::new(),
    }
}

enum PgValueError {
    Read(sqlx::Error),
    Unsupported(String),
}

fn postgres_value(row: &sqlx::postgres::PgRow, i: usize) -> Result<FieldValue, PgValueError> {
    use sqlx::{Column, Row as _, TypeInfo};
    let ty = row.columns()[i].type_info().name().to_owned();
    let v = match ty.as_str() {
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row
            .try_get::<Option<String>, _>(i)
            .map_err(PgValueError::Read)?
            .map(FieldValue::Text),
        "INT2" => row
            .try_get::<Option<i16>, _>(i)
            .map_err(PgValueError::Read)?
            .map(|v| FieldValue::Integer(v.into())),
        "INT4" => row
            .try_get::<Option<i32>, _>(i)
            .map_err(PgValueError::Read)?
            .map(|v| FieldValue::Integer(v.into())),
        "INT8" => row
            .try_get::<Option<i64>, _>(i)
            .map_err(PgValueError::Read)?
            .map(FieldValue::Integer),
        "FLOAT4" | "FLOAT8" => row
            .try_get::<Option<f64>, _>(i)
            .map_err(PgValueError::Read)?
            .map(FieldValue::Real),
        "BOOL" => row
            .try_get::<Option<bool>, _>(i)
            .map_err(PgValueError::Read)?
            .map(|v| FieldValue::Integer(v.into())),
        _ => return Err(PgValueError::Unsupported(ty)),
    };
    Ok(v.unwrap_or(FieldValue::Null))
}

/// Every row of one dataset, ordered by subject (byte order of the subject's text), read on
/// the thread that calls [`Scan::for_each`]. Each row handed over starts with the subject's
/// value, followed by the fields asked for, typed as [`FieldValue`]s. SQLite islands are
/// opened read-only again for the scan; PostgreSQL islands are read on a connection of the
/// scan's own; CSV islands, already in memory, are sorted there.
pub struct Scan {
    dataset: String,
    location: String,
    kind: ScanKind,
}

/// The most of an island file a scan maps into memory (SQLite's own ceiling is 2 GiB unless it
/// is built with a larger one).
const SCAN_MMAP_BYTES: i64 = 1 << 36;
/// The page cache of a scan, in KiB (SQLite's negative `cache_size`): 64 MiB, so that a page
/// visited again for the next subject's row is still parsed.
const SCAN_CACHE_KIB: i64 = -65_536;

enum ScanKind {
    Sqlite {
        path: PathBuf,
        sql: String,
        count: String,
    },
    Postgres {
        url: String,
        sql: String,
        count: String,
    },
    Memory(Vec<Vec<FieldValue>>),
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("dataset", &self.dataset)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Scan {
    fn error(&self, reason: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::Island {
            dataset: self.dataset.clone(),
            location: self.location.clone(),
            reason: reason.to_string(),
        }
    }

    /// Calls `row` with each row in subject order and stops at the first error it returns.
    /// `total` is told how many rows the island holds before the first row, for progress.
    /// Rows are handed over owned, so that a reader thread can pass them on without a copy.
    pub fn for_each<E: From<ConnectorError>>(
        self,
        total: impl FnOnce(u64),
        mut row: impl FnMut(Vec<FieldValue>) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.kind {
            ScanKind::Memory(rows) => {
                total(rows.len() as u64);
                for r in rows {
                    row(r.clone())?;
                }
                Ok(())
            }
            ScanKind::Sqlite { path, sql, count } => {
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(path, flags)
                    .map_err(|e| self.error(e))?;
                // The scan visits table rows in subject order, so pages are read out of file
                // order: map the file instead of copying each page through a read call. A
                // build of SQLite without memory mapping ignores this.
                let _ = conn.pragma_update(None, "mmap_size", SCAN_MMAP_BYTES);
                let _ = conn.pragma_update(None, "cache_size", SCAN_CACHE_KIB);
                let n: i64 = conn
                    .query_row(count, [], |r| r.get(0))
                    .map_err(|e| self.error(e))?;
                total(u64::try_from(n).unwrap_or_default());
                let mut stmt = conn.prepare(sql).map_err(|e| self.error(e))?;
                let width = stmt.column_count();
                let mut rows = stmt.query([]).map_err(|e| self.error(e))?;
                while let Some(r) = rows.next().map_err(|e| self.error(e))? {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(from_sqlite(r.get_ref(i).map_err(|e| self.error(e))?));
                    }
                    row(values)?;
                }
                Ok(())
            }
            ScanKind::Postgres { url, sql, count } => {
                use futures_util::TryStreamExt as _;
                use sqlx::Connection as _;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| self.error(e))?;
                runtime.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(url)
                        .await
                        .map_err(|e| self.error(e))?;
                    let n: i64 = sqlx::query_scalar(count)
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| self.error(e))?;
                    total(u64::try_from(n).unwrap_or_default());
                    let mut stream = sqlx::query(sql).fetch(&mut conn);
                    while let Some(r) = stream.try_next().await.map_err(|e| self.error(e))? {
                        let mut values = Vec::with_capacity(sqlx::Row::len(&r));
                        for i in 0..sqlx::Row::len(&r) {
                            values.push(postgres_value(&r, i).map_err(|e| match e {
                                PgValueError::Read(e) => self.error(e),
                                PgValueError::Unsupported(ty) => {
                                    self.error(format!("a column of type {ty} cannot be read"))
                                }
                            })?);
                        }
                        row(values)?;
                    }
                    Ok(())
                })
            }
        }
    }
}

/// The open connectors of every published dataset, which resolve subjects across datasets.
#[derive(Debug, Default)]
pub struct Islands {
    connectors: BTreeMap<String, Connector>,
}

impl Islands {
    /// Opens every connector of `config`, relative paths taken from `base`. A dataset read
    /// through another (`SubjectLink::Via`) needs that one configured too.
    pub async fn open(config: &IslandsConfig, base: &Path) -> Result<Islands, ConnectorError> {
        let mut connectors = BTreeMap::new();
        for c in &config.connector {
            if connectors.contains_key(&c.dataset) {
                return Err(ConnectorError::DuplicateConnector(c.dataset.clone()));
            }
            let connector = Connector::open(c, base).await?;
            connectors.insert(c.dataset.clone(), connector);
        }
        for (id, c) in &connectors {
            if let SubjectLink::Via { dataset, .. } = &c.dataset.subject {
                if !connectors.contains_key(dataset) {
                    return Err(ConnectorError::MissingVia {
                        dataset: id.clone(),
                        via: dataset.clone(),
                    });
                }
            }
        }
        Ok(Islands { connectors })
    }

    /// The datasets that have a connector.
    pub fn published(&self) -> impl Iterator<Item = &'static Dataset> + '_ {
        self.connectors.values().map(|c| c.dataset)
    }

    /// The connector of `dataset`, if it is published.
    pub fn connector(&self, dataset: &str) -> Option<&Connector> {
        self.connectors.get(dataset)
    }

    /// The rows of `dataset` about `subject` (a canonical citizen ID number, or a social credit
    /// code for organisation datasets), holding only `fields`.
    pub async fn lookup(
        &self,
        dataset: &str,
        subject: &str,
        fields: &[String],
    ) -> Result<Vec<Row>, ConnectorError> {
        let connector = self
            .connector(dataset)
            .ok_or_else(|| ConnectorError::NotPublished(dataset.to_owned()))?;
        match &connector.dataset.subject {
            SubjectLink::Direct { field } | SubjectLink::Organisation { field } => {
                connector
                    .rows_where(field, &[subject.to_owned()], fields)
                    .await
            }
            SubjectLink::Via {
                dataset: via,
                field,
            } => {
                let via_connector =
                    self.connector(via)
                        .ok_or_else(|| ConnectorError::MissingVia {
                            dataset: dataset.to_owned(),
                            via: via.clone(),
                        })?;
                let SubjectLink::Direct {
                    field: subject_field,
                } = &via_connector.dataset.subject
                else {
                    // The standard refuses a via dataset that does not name its subject directly.
                    return Err(ConnectorError::MissingVia {
                        dataset: dataset.to_owned(),
                        via: via.clone(),
                    });
                };
                let locals: Vec<String> = via_connector
                    .rows_where(
                        subject_field,
                        &[subject.to_owned()],
                        std::slice::from_ref(field),
                    )
                    .await?
                    .into_iter()
                    .filter_map(|mut r| match r.remove(field) {
                        Some(FieldValue::Text(t)) => Some(t),
                        Some(FieldValue::Integer(n)) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                connector.rows_where(field, &locals, fields).await
            }
        }
    }
}

impl Islands {
    /// An owned reader of every row of `dataset`, ordered by subject, holding the subject
    /// (the ID number or social credit code) and `fields`. A dataset keyed by a local
    /// identifier is joined to the dataset that maps it to a person, which must sit in the
    /// same SQLite or PostgreSQL database; rows whose local identifier maps to no one are left
    /// out.
    pub fn scan(&self, dataset: &str, fields: &[String]) -> Result<Scan, ConnectorError> {
        let connector = self
            .connector(dataset)
            .ok_or_else(|| ConnectorError::NotPublished(dataset.to_owned()))?;
        let table = connector.table().unwrap_or_default().to_owned();
        match &connector.dataset.subject {
            SubjectLink::Direct { field } | SubjectLink::Organisation { field } => {
                if connector.is_csv() {
                    return connector.csv_scan(field, fields);
                }
                let subject = format!("t.{}", quote(connector.column(field)?)?);
                connector.scan_from(&subject, &format!("{table} AS t"), fields)
            }
            SubjectLink::Via {
                dataset: via,
                field,
            } => {
                let missing = || ConnectorError::MissingVia {
                    dataset: dataset.to_owned(),
                    via: via.clone(),
                };
                let via_connector = self.connector(via).ok_or_else(missing)?;
                let SubjectLink::Direct {
                    field: subject_field,
                } = &via_connector.dataset.subject
                else {
                    return Err(missing());
                };
                let same_database = match (&connector.source, &via_connector.source) {
                    (Source::Sqlite { .. }, Source::Sqlite { .. }) => {
                        connector.sqlite_path().is_some()
                            && connector.sqlite_path() == via_connector.sqlite_path()
                    }
                    (Source::Postgres { url: a, .. }, Source::Postgres { url: b, .. }) => a == b,
                    _ => false,
                };
                if !same_database {
                    return Err(ConnectorError::Island {
                        dataset: dataset.to_owned(),
                        location: connector.location.clone(),
                        reason: format!(
                            "a bulk scan joins it to {via}, which must be in the same database"
                        ),
                    });
                }
                let via_table = via_connector.table().unwrap_or_default();
                let subject = format!("v.{}", quote(via_connector.column(subject_field)?)?);
                let from = format!(
                    "{table} AS t JOIN {via_table} AS v ON v.{} = t.{}",
                    quote(via_connector.column(field)?)?,
                    quote(connector.column(field)?)?
                );
                connector.scan_from(&subject, &from, fields)
            }
        }
    }
}

fn resolve(base: &Path, location: &str) -> PathBuf {
    let p = Path::new(location);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// A plain identifier, double-quoted (SQL:2016 §5.2 delimited identifier).
fn quote(identifier: &str) -> Result<String, ConnectorError> {
    let mut chars = identifier.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && identifier.len() <= 63;
    if ok {
        Ok(format!("\"{identifier}\""))
    } else {
        Err(ConnectorError::BadIdentifier(identifier.to_owned()))
    }
}

fn quoted_list<'a>(columns: impl Iterator<Item = &'a str>) -> Result<String, ConnectorError> {
    let quoted = columns.map(quote).collect::<Result<Vec<_>, _>>()?;
    Ok(if quoted.is_empty() {
        "1".to_owned()
    } else {
        quoted.join(", ")
    })
}

fn select_list(columns: &[(String, String)]) -> Result<String, ConnectorError> {
    quoted_list(columns.iter().map(|(_, c)| c.as_str()))
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> FieldValue {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => FieldValue::Null,
        ValueRef::Integer(n) => FieldValue::Integer(n),
        ValueRef::Real(r) => FieldValue::Real(r),
        ValueRef::Text(t) => FieldValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => FieldValue::Text(String::from_utf8_lossy(b).into_owned()),
    }
}

/// A CSV cell typed as its element: integers, amounts in fen and flags as integers, reals as
/// reals, the rest as text; an empty cell is null.
fn from_text(text: &str, ty: ElementType) -> FieldValue {
    let text = text.trim();
    if text.is_empty() {
        return FieldValue::Null;
    }
    match ty {
        ElementType::Integer | ElementType::Money | ElementType::Boolean => text
            .parse()
            .map_or_else(|_| FieldValue::Text(text.to_owned()), FieldValue::Integer),
        ElementType::Real => text
            .parse()
            .map_or_else(|_| FieldValue::Text(text.to_owned()), FieldValue::Real),
        ElementType::String | ElementType::Date => FieldValue::Text(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_only_when_plain() {
        assert_eq!(quote("one_card").ok().as_deref(), Some("\"one_card\""));
        for bad in [
            "",
            "1abc",
            "a b",
            "a\"b",
            "x; DROP TABLE t",
            &"a".repeat(64),
        ] {
            assert!(quote(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csv_cells_are_typed_by_their_element() {
        assert_eq!(from_text("", ElementType::String), FieldValue::Null);
        assert_eq!(from_text("42", ElementType::Money), FieldValue::Integer(42));
        assert_eq!(from_text("2.5", ElementType::Real), FieldValue::Real(2.5));
        assert_eq!(
            from_text("2026-07-01", ElementType::Date),
            FieldValue::Text("2026-07-01".into())
        );
    }
}
