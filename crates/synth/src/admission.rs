//! A new record arriving in an island, for the demo's live case: a university admission
//! written into the education island as the department's own system would write it.

use std::path::{Path, PathBuf};

use errandless_standards::{CitizenId, Date};
use rusqlite::{params, Connection, OptionalExtension};

use crate::names::{MAJORS, SCHOOLS};

/// Why an admission (or a death, [`crate::register_death`]) could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error("the island {path} cannot be used: {source}")]
    Island {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0} is not a resident of this province")]
    UnknownSubject(String),
    #[error("{0} is already admitted in {1}")]
    AlreadyAdmitted(String, i32),
    #[error(
        "no member of a registered poor household aged 16 to 22 is waiting for an admission \
         in this province; name one with --subject"
    )]
    NoCandidate,
    #[error(
        "no registered resident aged 80 or over with a one-card account is alive in this \
         province; name one with --subject"
    )]
    NoElderCandidate,
    #[error("the death of {0} is registered already, on {1}")]
    AlreadyDead(String, String),
}

/// Opens the island of `department` in the province in `dir`, with the islands of `attach`
/// (alias, department) attached, as a department's own system would read them.
pub(crate) fn open_island(
    dir: &Path,
    department: &str,
    attach: &[(&str, &str)],
) -> Result<(Connection, PathBuf), AdmissionError> {
    let islands = dir.join("islands");
    let path = islands.join(format!("{department}.sqlite"));
    let db = Connection::open(&path).map_err(|source| AdmissionError::Island {
        path: path.clone(),
        source,
    })?;
    for (alias, other) in attach {
        let file = islands.join(format!("{other}.sqlite"));
        db.execute(
            &format!("ATTACH DATABASE ?1 AS {alias}"),
            params![file.display().to_string()],
        )
        .map_err(|source| AdmissionError::Island { path: file, source })?;
    }
    Ok((db, path))
}

/// The first number `prefix` followed by seven digits that no row of `table` holds in
/// `column` (both names are this crate's own).
pub(crate) fn unused_number(
    db: &Connection,
    table: &str,
    column: &str,
    prefix: &str,
) -> rusqlite::Result<String> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = ?1)");
    let mut taken = db.prepare(&sql)?;
    let mut n = 0u64;
    loop {
        let candidate = format!("{prefix}{n:07}");
        if !taken.query_row(params![candidate], |r| r.get::<_, bool>(0))? {
            return Ok(candidate);
        }
        n += 1;
    }
}

/// The admission written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub id_number: String,
    pub name: String,
    pub student_no: String,
    pub institution: String,
    pub level: String,
    pub year: i32,
}

/// Admits `subject` (or, when `None`, a member of a registered poor household aged 16 to 22
/// in `today`'s year and not yet admitted, preferring one who holds a one-card account and
/// is nearest 18: the headline case) to a
/// bachelor's programme in `today`'s year, in the education island of the province in `dir`.
/// The student is registered first when the island does not know them.
pub fn admit(
    dir: &Path,
    subject: Option<&CitizenId>,
    today: Date,
) -> Result<Admitted, AdmissionError> {
    let (db, path) = open_island(
        dir,
        "education",
        &[
            ("ps", "public_security"),
            ("rr", "rural_revitalisation"),
            ("fin", "finance"),
        ],
    )?;
    let err = |source| AdmissionError::Island {
        path: path.clone(),
        source,
    };
    let year = today.year();
    let id_number = match subject {
        Some(id) => id.as_str().to_owned(),
        None => {
            db.query_row(
                "SELECT p.id_number FROM rr.poor_household p \
                 WHERE p.status IN ('active', 'monitored') \
                   AND CAST(substr(p.id_number, 7, 4) AS INTEGER) BETWEEN ?1 AND ?2 \
                   AND NOT EXISTS (SELECT 1 FROM student s JOIN admission a ON a.student_no = s.student_no \
                                   WHERE s.id_number = p.id_number) \
                 ORDER BY EXISTS (SELECT 1 FROM fin.one_card c WHERE c.id_number = p.id_number) DESC, \
                          abs(CAST(substr(p.id_number, 7, 4) AS INTEGER) - ?3), p.id_number \
                 LIMIT 1",
                params![year - 22, year - 16, year - 18],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(err)?
            .ok_or(AdmissionError::NoCandidate)?
        }
    };
    let name: String = db
        .query_row(
            "SELECT name FROM ps.resident WHERE id_number = ?1 ORDER BY rowid LIMIT 1",
            params![id_number],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?
        .ok_or_else(|| AdmissionError::UnknownSubject(id_number.clone()))?;
    let admitted: Option<i32> = db
        .query_row(
            "SELECT a.year FROM student s JOIN admission a ON a.student_no = s.student_no \
             WHERE s.id_number = ?1 AND a.year = ?2",
            params![id_number, year],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?;
    if let Some(y) = admitted {
        return Err(AdmissionError::AlreadyAdmitted(id_number, y));
    }
    let pick = id_number.bytes().map(usize::from).sum::<usize>();
    let institution = SCHOOLS[pick % SCHOOLS.len()].to_owned();
    let major = MAJORS[pick % MAJORS.len()];
    let tx = db.unchecked_transaction().map_err(err)?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT student_no FROM student WHERE id_number = ?1 ORDER BY rowid LIMIT 1",
            params![id_number],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?;
    let student_no = match existing {
        Some(no) => no,
        None => {
            // A number of the island's shape (S, county, sequence) that no student holds.
            let no = unused_number(
                &tx,
                "student",
                "student_no",
                &format!("S{}9", &id_number[..6]),
            )
            .map_err(err)?;
            tx.execute(
                "INSERT INTO student (student_no, id_number, name, school, enrolled_on) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![no, id_number, name, institution, today.to_string()],
            )
            .map_err(err)?;
            no
        }
    };
    tx.execute(
        "INSERT INTO admission (student_no, year, level, institution, major, admitted_on) \
         VALUES (?1, ?2, 'bachelor', ?3, ?4, ?5)",
        params![student_no, year, institution, major, today.to_string()],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(Admitted {
        id_number,
        name,
        student_no,
        institution,
        level: "bachelor".to_owned(),
        year,
    })
}
