//! A death registered in the civil affairs island, for the demo's second live case: someone
//! who stops qualifying. Written as the department's own system would write it.

use std::path::Path;

use errandless_standards::{CitizenId, Date};
use rusqlite::{params, OptionalExtension};

use crate::admission::{open_island, unused_number, AdmissionError};

/// The death registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub id_number: String,
    pub name: String,
    pub record_no: String,
    pub died_on: String,
}

/// Registers the death of `subject` on `today` (or, when `None`, of the oldest registered
/// resident aged 80 or over who holds a one-card account and whose death is not registered:
/// someone the elderly allowance pays) in the civil affairs island of the province in `dir`.
pub fn register_death(
    dir: &Path,
    subject: Option<&CitizenId>,
    today: Date,
) -> Result<Registered, AdmissionError> {
    let (db, path) = open_island(
        dir,
        "civil_affairs",
        &[("ps", "public_security"), ("fin", "finance")],
    )?;
    let err = |source| AdmissionError::Island {
        path: path.clone(),
        source,
    };
    let id_number = match subject {
        Some(id) => id.as_str().to_owned(),
        None => db
            .query_row(
                "SELECT r.id_number FROM ps.resident r \
                 WHERE r.status = 'registered' AND r.birth_date <= ?1 \
                   AND EXISTS (SELECT 1 FROM fin.one_card c WHERE c.id_number = r.id_number) \
                   AND NOT EXISTS (SELECT 1 FROM death d WHERE d.id_number = r.id_number) \
                 ORDER BY r.birth_date, r.id_number LIMIT 1",
                params![format!("{}-01-01", today.year() - 80)],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(err)?
            .ok_or(AdmissionError::NoElderCandidate)?,
    };
    let (name, division): (String, String) = db
        .query_row(
            "SELECT name, division_code FROM ps.resident WHERE id_number = ?1 ORDER BY rowid LIMIT 1",
            params![id_number],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?
        .ok_or_else(|| AdmissionError::UnknownSubject(id_number.clone()))?;
    let registered: Option<String> = db
        .query_row(
            "SELECT died_on FROM death WHERE id_number = ?1 ORDER BY rowid LIMIT 1",
            params![id_number],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?;
    if let Some(on) = registered {
        return Err(AdmissionError::AlreadyDead(id_number, on));
    }
    let tx = db.unchecked_transaction().map_err(err)?;
    // A number of the island's shape (SW, county, sequence) that no record holds.
    let county = division.get(..6).unwrap_or("000000").to_owned();
    let record_no =
        unused_number(&tx, "death", "record_no", &format!("SW{county}9")).map_err(err)?;
    let died_on = today.to_string();
    tx.execute(
        "INSERT INTO death (record_no, id_number, name, died_on, division_code) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![record_no, id_number, name, died_on, division],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(Registered {
        id_number,
        name,
        record_no,
        died_on,
    })
}
