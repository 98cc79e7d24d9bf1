//! The installation's record: which province this installation holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;

use crate::{unix_ms, Store, StoreError};

/// What an installation was generated or loaded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstallation {
    /// The two-digit GB/T 2260 province-level code, e.g. `52`.
    pub province_code: String,
    /// The seed of the synthetic province.
    pub seed: u64,
    /// How many people the province holds.
    pub people: u64,
}

/// The installation's record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The two-digit GB/T 2260 province-level code, e.g. `52`.
    pub province_code: String,
    /// The seed of the synthetic province.
    pub seed: u64,
    /// How many people the province holds.
    pub people: u64,
    /// When the record was first written (millisecond precision).
    pub created_at: SystemTime,
    /// When the record was last written (millisecond precision).
    pub updated_at: SystemTime,
}

impl Store {
    /// Writes the installation's record, replacing any earlier one but keeping its creation
    /// time, and returns it as stored.
    ///
    /// A province code that is not a real GB/T 2260 province-level code (two digits, as the
    /// `standards` crate lists them), or a people count past `i64::MAX`, is refused before
    /// anything is written.
    pub async fn record_installation(
        &self,
        new: &NewInstallation,
    ) -> Result<Installation, StoreError> {
        let code = &new.province_code;
        let known = code.len() == 2
            && code.bytes().all(|b| b.is_ascii_digit())
            && code
                .parse()
                .ok()
                .and_then(errandless_standards::division::province)
                .is_some();
        if !known {
            return Err(StoreError::InvalidProvinceCode { code: code.clone() });
        }
        let people = i64::try_from(new.people).map_err(|_| StoreError::OutOfRange {
            field: "people",
            value: new.people,
        })?;
        let now = unix_ms(SystemTime::now());
        sqlx::query(
            "INSERT INTO store_installation
                 (id, province_code, seed, people, created_at_ms, updated_at_ms)
             VALUES (1, $1, $2, $3, $4, $4)
             ON CONFLICT (id) DO UPDATE SET
                 province_code = excluded.province_code,
                 seed          = excluded.seed,
                 people        = excluded.people,
                 updated_at_ms = excluded.updated_at_ms",
        )
        .bind(code)
        .bind(new.seed.to_string())
        .bind(people)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.installation()
            .await?
            .ok_or_else(|| StoreError::CorruptRow {
                table: "store_installation",
                reason: "the row just written is missing".to_owned(),
            })
    }

    /// The installation's record, or `None` before [`Store::record_installation`] was called.
    pub async fn installation(&self) -> Result<Option<Installation>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT province_code, seed, people, created_at_ms, updated_at_ms
             FROM store_installation WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::CorruptRow {
            table: "store_installation",
            reason,
        };
        let seed: String = row.try_get("seed")?;
        let people: i64 = row.try_get("people")?;
        Ok(Some(Installation {
            province_code: row.try_get("province_code")?,
            seed: seed
                .parse()
                .map_err(|_| corrupt(format!("seed `{seed}` is not a u64")))?,
            people: u64::try_from(people)
                .map_err(|_| corrupt(format!("people {people} is negative")))?,
            created_at: time(row.try_get("created_at_ms")?).map_err(corrupt)?,
            updated_at: time(row.try_get("updated_at_ms")?).map_err(corrupt)?,
        }))
    }
}

fn time(ms: i64) -> Result<SystemTime, String> {
    let ms = u64::try_from(ms).map_err(|_| format!("time {ms} ms is before 1970"))?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}
