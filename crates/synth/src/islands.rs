//! The island writers: one SQLite file per department, in the department's own schema (from
//! the standard), with its own identifiers and its own data-quality faults.
//!
//! Each island is written by one thread from the same ordered stream of county chunks, so its
//! file is byte-identical for the same seed. Faults are drawn from a random stream of the
//! island's own, so adding a fault to one island never changes another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{params, Connection, Statement, ToSql};

use errandless_standards::{Date, Standard};

use crate::names::{BANKS, MAJORS, OCCUPATIONS, SCHOOLS};
use crate::people::{BusinessKind, Chunk, Household, Person};
use crate::plan::{County, Plan};
use crate::stream_seed;

/// Everything an island writer needs besides the chunk.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub as_of: Date,
    pub seed: u64,
}

/// Prepared inserts of one island, by dataset.
pub struct Tables<'c> {
    names: Vec<String>,
    statements: Vec<Statement<'c>>,
    pub rows: Vec<u64>,
}

impl<'c> Tables<'c> {
    /// Creates the island's tables from the standard and prepares their inserts.
    pub fn create(
        conn: &'c Connection,
        standard: &Standard,
        department: &str,
    ) -> rusqlite::Result<Self> {
        let mut names = Vec::new();
        let mut statements = Vec::new();
        for ds in standard.datasets_of(department) {
            conn.execute_batch(&standard.create_table_sql(ds))?;
            let cols: Vec<&str> = ds.fields.iter().map(|f| f.name.as_str()).collect();
            let marks = vec!["?"; cols.len()].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                ds.table,
                cols.join(", ")
            );
            statements.push(conn.prepare(&sql)?);
            names.push(ds.table.clone());
        }
        let rows = vec![0; names.len()];
        Ok(Tables {
            names,
            statements,
            rows,
        })
    }

    /// The position of a table; a wrong name is a bug in this file.
    fn table(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("the standard has no table {name} for this island"))
    }

    fn insert(&mut self, table: usize, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
        self.statements[table].execute(values)?;
        self.rows[table] += 1;
        Ok(())
    }
}

/// The island's own random stream for faults and local detail, per chunk.
fn island_rng(ctx: &Context<'_>, island: u64, chunk: &Chunk) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(ctx.seed, 100 + island, chunk.county as u64))
}

fn id(p: &Person) -> &str {
    p.id.as_str()
}

/// A date as ISO 8601 text without allocating.
#[derive(Clone, Copy)]
pub struct Day([u8; 10]);

impl ToSql for Day {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(&self.0),
        ))
    }
}

fn day(d: Date) -> Day {
    let mut b = [b'-'; 10];
    let (y, m, dd) = (d.year().clamp(0, 9999) as u32, d.month(), d.day());
    for (i, v) in [
        (0, y / 1000),
        (1, y / 100 % 10),
        (2, y / 10 % 10),
        (3, y % 10),
    ] {
        b[i] = b'0' + v as u8;
    }
    b[5] = b'0' + (m / 10) as u8;
    b[6] = b'0' + (m % 10) as u8;
    b[8] = b'0' + (dd / 10) as u8;
    b[9] = b'0' + (dd % 10) as u8;
    Day(b)
}

/// A random day of `year`, not after `as_of`.
fn day_in(rng: &mut ChaCha8Rng, year: i32, as_of: Date) -> Date {
    Date::new(year, rng.gen_range(1..=12), rng.gen_range(1..=28))
        .expect("days 1-28 exist in every month")
        .min(as_of)
}

/// The Luhn check digit of a bank card number body (ISO/IEC 7812).
fn luhn(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// A 19-digit bank card number: an issuer prefix, the kind of account, a serial, and the
/// Luhn check digit.
fn bank_account(bank: u8, kind: u8, serial: u64) -> String {
    const BINS: [&str; 8] = [
        "622848", "622202", "621700", "621661", "621799", "622991", "622370", "622260",
    ];
    let body = format!("{}{kind}{serial:011}", BINS[bank as usize % 8]);
    let check = luhn(&body);
    format!("{body}{check}")
}

fn address(plan: &Plan, county: &County, h: &Household, stale: bool) -> String {
    let city = &plan.cities[county.city];
    let t = &county.townships[h.township as usize];
    let v = &t.villages[h.village as usize];
    let township = if stale { &t.former_name } else { &t.name };
    if h.urban {
        format!(
            "{}{}{}{}{}{}号{}栋{}单元{}室",
            plan.province.zh,
            city.name,
            county.name,
            township,
            v.name,
            h.house_no,
            h.house_no % 12 + 1,
            h.house_no % 3 + 1,
            (h.house_no % 20 + 1) * 100 + h.house_no % 4 + 1
        )
    } else {
        format!(
            "{}{}{}{}{}{}组{}号",
            plan.province.zh,
            city.name,
            county.name,
            township,
            v.name,
            h.house_no % 9 + 1,
            h.house_no
        )
    }
}

/// The 12-digit codes of a county's villages as text, by township and village.
struct VillageCodes(Vec<Vec<String>>);

impl VillageCodes {
    fn new(county: &County) -> Self {
        VillageCodes(
            county
                .townships
                .iter()
                .map(|t| t.villages.iter().map(|v| v.code.to_string()).collect())
                .collect(),
        )
    }
    fn of(&self, h: &Household) -> &str {
        &self.0[h.township as usize][h.village as usize]
    }
}

fn sex(p: &Person) -> &'static str {
    if p.male {
        "1"
    } else {
        "2"
    }
}

/// Writes one chunk into the island of `department`.
pub fn write(
    department: &str,
    island: u64,
    ctx: &Context<'_>,
    chunk: &Chunk,
    t: &mut Tables<'_>,
) -> rusqlite::Result<()> {
    let mut rng = island_rng(ctx, island, chunk);
    let county = &ctx.plan.counties[chunk.county];
    let county6 = county.code.county_code();
    let as_of = ctx.as_of;
    let people = &chunk.people;
    let hh = |p: &Person| &chunk.households[p.household as usize];
    let codes = VillageCodes::new(county);
    match department {
        "public_security" => {
            let (resident, household) = (t.table("resident"), t.table("household"));
            for h in &chunk.households {
                let head = &people[h.head as usize];
                let addr = (!rng.gen_bool(0.01)).then(|| address(ctx.plan, county, h, false));
                t.insert(
                    household,
                    params![
                        h.no.to_string(),
                        id(head),
                        if h.urban { "urban" } else { "rural" },
                        h.len,
                        codes.of(h),
                        addr
                    ],
                )?;
            }
            let mut current = (u32::MAX, String::new(), String::new());
            for p in people {
                let h = hh(p);
                if current.0 != p.household {
                    current = (
                        p.household,
                        address(ctx.plan, county, h, false),
                        address(ctx.plan, county, h, true),
                    );
                }
                // Deaths reach household registration late: a tenth are still registered.
                let status = match p.deceased {
                    Some(_) if rng.gen_bool(0.9) => "deceased",
                    _ => "registered",
                };
                let addr = if rng.gen_bool(0.015) {
                    None
                } else {
                    Some(if rng.gen_bool(0.03) {
                        &current.2
                    } else {
                        &current.1
                    })
                };
                let row = params![
                    id(p),
                    p.name,
                    sex(p),
                    day(p.birth),
                    h.no.to_string(),
                    p.relation.code(),
                    codes.of(h),
                    addr,
                    status
                ];
                t.insert(resident, row)?;
                // A few people are registered twice (重户), a known fault of old registers.
                if rng.gen_bool(0.0005) {
                    t.insert(resident, row)?;
                }
            }
        }
        "civil_affairs" => {
            let (marriage, dibao, death) =
                (t.table("marriage"), t.table("dibao"), t.table("death"));
            for p in people {
                if let Some(s) = p.spouse {
                    let spouse = &people[s as usize];
                    let (husband, wife) = if p.male { (p, spouse) } else { (spouse, p) };
                    let youngest = husband.birth.max(wife.birth);
                    let year = (youngest.year() + rng.gen_range(22..30)).min(as_of.year());
                    let registered = day_in(&mut rng, year, as_of);
                    // Both spouses hold a certificate with the same number.
                    let cert = format!("J{county6:06}-{year}-{:06}", husband.seq % 1_000_000);
                    t.insert(
                        marriage,
                        params![cert, id(p), id(spouse), day(registered), "married"],
                    )?;
                }
            }
            for h in &chunk.households {
                if let Some(amount) = h.dibao {
                    let head = &people[h.head as usize];
                    let status = match rng.gen_range(0..100) {
                        0..=84 => "active",
                        85..=92 => "suspended",
                        _ => "ended",
                    };
                    let since = as_of.add_days(-rng.gen_range(30..3000));
                    t.insert(
                        dibao,
                        params![
                            format!("DB{county6:06}{:07}", h.no % 10_000_000),
                            id(head),
                            (!rng.gen_bool(0.03)).then(|| h.no.to_string()),
                            h.len,
                            amount,
                            day(since),
                            status
                        ],
                    )?;
                }
            }
            for p in people {
                // Not every death is reported to civil affairs.
                if let Some(d) = p.deceased.filter(|_| rng.gen_bool(0.95)) {
                    t.insert(
                        death,
                        params![
                            format!("SW{county6:06}{:08}", p.seq % 100_000_000),
                            id(p),
                            p.name,
                            day(d),
                            Some(codes.of(hh(p)))
                        ],
                    )?;
                }
            }
        }
        "rural_revitalisation" => {
            let poor = t.table("poor_household");
            for h in &chunk.households {
                let Some((status, year)) = h.poor else {
                    continue;
                };
                let archive = format!("P{county6:06}{:07}", h.no % 10_000_000);
                for p in &people[h.first as usize..(h.first + h.len) as usize] {
                    let row = params![
                        archive,
                        id(p),
                        p.name,
                        (!rng.gen_bool(0.02)).then(|| p.relation.code()),
                        status.code(),
                        year,
                        codes.of(h)
                    ];
                    t.insert(poor, row)?;
                    if rng.gen_bool(0.005) {
                        t.insert(poor, row)?;
                    }
                }
            }
        }
        "education" => {
            let (student, admission) = (t.table("student"), t.table("admission"));
            for p in people {
                if !(p.high_school || p.admission.is_some()) {
                    continue;
                }
                let student_no = format!("S{county6:06}{:08}", p.seq % 100_000_000);
                let (school, enrolled) = match &p.admission {
                    Some(a) => (
                        SCHOOLS[a.school as usize].to_string(),
                        Date::new(a.year, 9, 1).expect("1 September exists"),
                    ),
                    None => (
                        format!("{}第{}中学", county.name, p.seq % 5 + 1),
                        Date::new(p.birth.year() + 15, 9, 1).expect("1 September exists"),
                    ),
                };
                // A student registered before getting an ID number has none on file.
                let id_number = (!rng.gen_bool(0.01)).then(|| id(p));
                t.insert(
                    student,
                    params![
                        student_no,
                        id_number,
                        p.name,
                        school,
                        day(enrolled.min(as_of))
                    ],
                )?;
                if let Some(a) = &p.admission {
                    let admitted = Date::new(a.year, 7, rng.gen_range(10..=31)).expect("July day");
                    t.insert(
                        admission,
                        params![
                            student_no,
                            a.year,
                            if a.bachelor { "bachelor" } else { "associate" },
                            SCHOOLS[a.school as usize],
                            (!rng.gen_bool(0.02)).then(|| MAJORS[a.major as usize]),
                            day(admitted.min(as_of))
                        ],
                    )?;
                }
            }
        }
        "human_resources" => {
            let (insurance, employment, card) = (
                t.table("social_insurance"),
                t.table("employment"),
                t.table("ss_card"),
            );
            for p in people {
                let age = p.age_on(as_of);
                if let Some(e) = &p.employment {
                    let employer = &chunk.businesses[e.employer as usize];
                    let base = e.wage.clamp(420_000, 2_100_000);
                    t.insert(
                        insurance,
                        params![
                            id(p),
                            "employee_pension",
                            "paying",
                            day(e.started),
                            Some(base)
                        ],
                    )?;
                    t.insert(
                        insurance,
                        params![id(p), "unemployment", "paying", day(e.started), Some(base)],
                    )?;
                    let ended =
                        (rng.gen_bool(0.04)).then(|| day(as_of.add_days(-rng.gen_range(1..200))));
                    t.insert(
                        employment,
                        params![
                            id(p),
                            employer.uscc.as_str(),
                            day(e.started),
                            ended,
                            (!rng.gen_bool(0.05)).then(|| OCCUPATIONS[e.occupation as usize])
                        ],
                    )?;
                } else if age >= 60 {
                    // Pensions of the dead are sometimes still paid: a fault the data shows.
                    if p.deceased.is_none() || rng.gen_bool(0.2) {
                        let kind = if hh(p).urban && rng.gen_bool(0.6) {
                            "employee_pension"
                        } else {
                            "resident_pension"
                        };
                        let since = Date::new(p.birth.year() + 60, p.birth.month(), 1)
                            .expect("first of a month");
                        t.insert(
                            insurance,
                            params![id(p), kind, "receiving", day(since.min(as_of)), None::<i64>],
                        )?;
                    }
                } else if age >= 18 && rng.gen_bool(0.7) {
                    let status = if rng.gen_bool(0.9) {
                        "paying"
                    } else {
                        "suspended"
                    };
                    let since = as_of.add_days(-rng.gen_range(30..4000));
                    t.insert(
                        insurance,
                        params![id(p), "resident_pension", status, day(since), None::<i64>],
                    )?;
                }
                if p.ss_card {
                    let bank = (p.seq % 8) as u8;
                    let issued = as_of.add_days(-rng.gen_range(30..3500));
                    t.insert(
                        card,
                        params![
                            format!(
                                "{}{:08}",
                                char::from(b'A' + (p.seq / 100_000_000 % 26) as u8),
                                p.seq.wrapping_mul(48_271) % 100_000_000
                            ),
                            id(p),
                            BANKS[bank as usize],
                            bank_account(bank, 3, p.seq),
                            day(issued)
                        ],
                    )?;
                }
            }
        }
        "health" => {
            let (birth, vaccination) = (t.table("birth"), t.table("vaccination"));
            // Doses of the national immunisation programme and the age in days they are due.
            const SCHEDULE: &[(&str, i64, i64)] = &[
                ("HepB", 1, 0),
                ("BCG", 1, 0),
                ("HepB", 2, 30),
                ("OPV", 1, 60),
                ("OPV", 2, 90),
                ("DTaP", 1, 90),
                ("DTaP", 2, 120),
                ("HepB", 3, 180),
                ("MenA", 1, 180),
                ("MMR", 1, 240),
                ("JE", 1, 240),
                ("HepA", 1, 540),
            ];
            for p in people {
                let age_days = as_of.days_since_epoch() - p.birth.days_since_epoch();
                if p.age_on(as_of) > 16 {
                    continue;
                }
                let cert = format!(
                    "{}{:09}",
                    char::from(b'M' + (p.birth.year() % 10) as u8),
                    p.seq.wrapping_mul(2_654_435_761) % 1_000_000_000
                );
                let mother = p.mother.map(|m| id(&people[m as usize]).to_string());
                let father = p
                    .father
                    .filter(|_| !rng.gen_bool(0.08))
                    .map(|f| id(&people[f as usize]).to_string());
                // Infants are sometimes not yet registered with public security.
                let child_id = (!(age_days < 365 && rng.gen_bool(0.2))).then(|| id(p));
                t.insert(
                    birth,
                    params![
                        cert,
                        child_id,
                        p.name,
                        sex(p),
                        day(p.birth),
                        mother,
                        father,
                        codes.of(hh(p))
                    ],
                )?;
                if p.age_on(as_of) <= 6 {
                    for &(vaccine, dose, due) in SCHEDULE {
                        if due <= age_days && rng.gen_bool(0.97) {
                            let given = p.birth.add_days(due + rng.gen_range(0..20)).min(as_of);
                            t.insert(vaccination, params![cert, vaccine, dose, day(given)])?;
                        }
                    }
                }
            }
        }
        "healthcare_security" => {
            let medical = t.table("medical_insurance");
            for p in people {
                // The dead are removed late: part of them are still listed as insured.
                if p.deceased.is_some() && rng.gen_bool(0.6) {
                    continue;
                }
                if !rng.gen_bool(0.96) {
                    continue;
                }
                let scheme = if p.employment.is_some() {
                    "employee"
                } else {
                    "resident"
                };
                let lapsed = rng.gen_bool(0.05);
                let row = params![
                    id(p),
                    scheme,
                    if lapsed { "suspended" } else { "active" },
                    (!rng.gen_bool(0.01)).then_some(if lapsed {
                        as_of.year() - 1
                    } else {
                        as_of.year()
                    }),
                    codes.of(hh(p))
                ];
                t.insert(medical, row)?;
                if rng.gen_bool(0.002) {
                    t.insert(medical, row)?;
                }
            }
        }
        "housing_fund" => {
            let account = t.table("account");
            for p in people {
                let Some(e) = p.employment.as_ref().filter(|e| e.housing_fund) else {
                    continue;
                };
                let employer = &chunk.businesses[e.employer as usize];
                let deposit = e.wage * 24 / 100;
                let months = (as_of.days_since_epoch() - e.started.days_since_epoch()) / 30;
                let balance = deposit * months.min(60) * rng.gen_range(20..100) / 100;
                t.insert(
                    account,
                    params![
                        format!(
                            "{county6:06}{:08}",
                            p.seq.wrapping_mul(48_271) % 100_000_000
                        ),
                        id(p),
                        employer.uscc.as_str(),
                        day(e.started),
                        deposit,
                        balance,
                        if rng.gen_bool(0.95) {
                            "normal"
                        } else {
                            "sealed"
                        }
                    ],
                )?;
            }
        }
        "natural_resources" => {
            let estate = t.table("real_estate");
            let city = &ctx.plan.cities[county.city];
            for h in chunk.households.iter().filter(|h| h.property) {
                let owner = &people[h.head as usize];
                let year = as_of.year() - rng.gen_range(0..10);
                let registered = day_in(&mut rng, year, as_of);
                let cert = format!(
                    "{}({year}){}不动产权第{:07}号",
                    ctx.plan.province.abbreviation,
                    city.name.trim_end_matches('市'),
                    h.no % 10_000_000
                );
                let (area, use_) = if h.urban {
                    (
                        rng.gen_range(45.0..160.0),
                        if rng.gen_bool(0.95) {
                            "residential"
                        } else {
                            "commercial"
                        },
                    )
                } else {
                    (rng.gen_range(80.0..260.0), "homestead")
                };
                // Property registers keep the address given at registration, often stale.
                let addr =
                    (!rng.gen_bool(0.02)).then(|| address(ctx.plan, county, h, rng.gen_bool(0.08)));
                t.insert(
                    estate,
                    params![
                        cert,
                        id(owner),
                        codes.of(h),
                        addr,
                        (area * 100.0_f64).round() / 100.0,
                        use_,
                        day(registered)
                    ],
                )?;
            }
        }
        "market_regulation" => {
            let business = t.table("business");
            for b in &chunk.businesses {
                let rep = &people[b.representative as usize];
                let (kind, name) = match b.kind {
                    BusinessKind::Individual => {
                        ("individual", format!("{}{}便利店", county.name, rep.name))
                    }
                    BusinessKind::Company => (
                        "limited_company",
                        format!(
                            "{}{}商贸有限公司",
                            ctx.plan.cities[county.city].name.trim_end_matches('市'),
                            crate::names::place_stem(&mut rng)
                        ),
                    ),
                    BusinessKind::Cooperative => (
                        "cooperative",
                        format!(
                            "{}{}种植专业合作社",
                            county.name,
                            crate::names::place_stem(&mut rng)
                        ),
                    ),
                };
                let status = if b.active {
                    "active"
                } else if rng.gen_bool(0.5) {
                    "revoked"
                } else {
                    "deregistered"
                };
                t.insert(
                    business,
                    params![
                        b.uscc.as_str(),
                        name,
                        kind,
                        id(rep),
                        day(b.registered),
                        status,
                        county.code.to_string()
                    ],
                )?;
            }
        }
        "taxation" => {
            let income = t.table("income");
            for p in people {
                let Some(e) = &p.employment else { continue };
                let annual = e.wage * 12 + rng.gen_range(0..e.wage);
                let tax = income_tax(annual, annual * 105 / 1000);
                t.insert(
                    income,
                    params![
                        id(p),
                        as_of.year() - 1,
                        annual,
                        tax,
                        Some(chunk.businesses[e.employer as usize].uscc.as_str())
                    ],
                )?;
            }
        }
        "traffic_police" => {
            let (licence, vehicle) = (t.table("driving_licence"), t.table("vehicle"));
            let city = &ctx.plan.cities[county.city];
            for p in people {
                if !p.licence {
                    continue;
                }
                let age = p.age_on(as_of);
                let first = as_of.add_days(-rng.gen_range(30..=i64::from((age - 18).max(1)) * 365));
                let class = match rng.gen_range(0..100) {
                    0..=74 => "C1",
                    75..=84 => "C2",
                    85..=92 => "B2",
                    93..=96 => "D",
                    97 => "A1",
                    _ => "A2",
                };
                // Licences run 6, then 10 years, then long term; renewal is sometimes late.
                let valid_until = first.add_days(6 * 365 + if age > 40 { 16 * 365 } else { 0 });
                let status = if p.deceased.is_some() {
                    "revoked"
                } else if valid_until < as_of {
                    "expired"
                } else {
                    "valid"
                };
                t.insert(
                    licence,
                    params![
                        format!(
                            "{:02}{:010}",
                            ctx.plan.province.code,
                            p.seq.wrapping_mul(48_271) % 10_000_000_000
                        ),
                        id(p),
                        class,
                        day(first),
                        day(valid_until),
                        status
                    ],
                )?;
                if p.vehicle {
                    let new_energy = rng.gen_bool(0.2);
                    let plate = plate(
                        ctx.plan.province.abbreviation,
                        city.plate_letter,
                        p.seq,
                        new_energy,
                    );
                    let vtype = if new_energy {
                        "new_energy_car"
                    } else if rng.gen_bool(0.1) {
                        "motorcycle"
                    } else if rng.gen_bool(0.05) {
                        "truck"
                    } else {
                        "small_car"
                    };
                    t.insert(
                        vehicle,
                        params![
                            plate,
                            id(p),
                            (!rng.gen_bool(0.04)).then(|| p.phone.to_string()),
                            vtype,
                            day(first.max(as_of.add_days(-rng.gen_range(30..5000)))),
                            if rng.gen_bool(0.97) {
                                "normal"
                            } else {
                                "scrapped"
                            }
                        ],
                    )?;
                }
            }
        }
        "disabled_persons" => {
            let cert = t.table("certificate");
            const CATEGORIES: [&str; 7] = [
                "visual",
                "hearing",
                "speech",
                "physical",
                "intellectual",
                "mental",
                "multiple",
            ];
            for p in people {
                let Some((category, grade)) = p.disability else {
                    continue;
                };
                let issued = as_of.add_days(-rng.gen_range(30..3650));
                let valid_until = (p.age_on(as_of) < 60).then(|| day(issued.add_days(10 * 365)));
                t.insert(
                    cert,
                    params![
                        format!("{}{category}{grade}", id(p)),
                        id(p),
                        CATEGORIES[category as usize - 1],
                        grade,
                        day(issued),
                        valid_until
                    ],
                )?;
            }
        }
        "veterans_affairs" => {
            let veteran = t.table("veteran");
            for p in people.iter().filter(|p| p.veteran) {
                let enlisted = Date::new(p.birth.year() + 18, 9, 1).expect("1 September exists");
                let years = rng.gen_range(2..16);
                let category = match rng.gen_range(0..100) {
                    0..=79 => "discharged_soldier",
                    80..=94 => "retired_officer",
                    _ => "disabled_veteran",
                };
                t.insert(
                    veteran,
                    params![
                        format!("TY{county6:06}{:07}", p.seq % 10_000_000),
                        id(p),
                        day(enlisted.min(as_of)),
                        day(enlisted.add_days(years * 365).min(as_of)),
                        category
                    ],
                )?;
            }
        }
        "courts" => {
            let defaulter = t.table("judgment_defaulter");
            let mut n = 0u32;
            let mut case_no = |year: i32| {
                n += 1;
                format!(
                    "({year}){}{:04}执{n}号",
                    ctx.plan.province.abbreviation,
                    county6 % 10_000
                )
            };
            for p in people {
                let Some(amount) = p.defaulter else { continue };
                let year = as_of.year() - rng.gen_range(0..5);
                let published = day_in(&mut rng, year, as_of);
                let no = case_no(year);
                t.insert(
                    defaulter,
                    params![
                        no,
                        Some(id(p)),
                        None::<&str>,
                        amount,
                        day(published),
                        if rng.gen_bool(0.8) {
                            "listed"
                        } else {
                            "removed"
                        }
                    ],
                )?;
            }
            for b in &chunk.businesses {
                if !rng.gen_bool(0.01) {
                    continue;
                }
                let year = as_of.year() - rng.gen_range(0..5);
                let published = day_in(&mut rng, year, as_of);
                let no = case_no(year);
                t.insert(
                    defaulter,
                    params![
                        no,
                        None::<&str>,
                        Some(b.uscc.as_str()),
                        rng.gen_range(1_000_000i64..500_000_000),
                        day(published),
                        "listed"
                    ],
                )?;
            }
        }
        "finance" => {
            let card = t.table("one_card");
            for p in people {
                let Some(bank) = p.one_card else { continue };
                let age = p.age_on(as_of);
                let opened = as_of.add_days(-rng.gen_range(10..=i64::from(age.clamp(1, 15)) * 365));
                // Accounts of the dead stay open until someone closes them.
                let status = match (p.deceased, rng.gen_range(0..100)) {
                    (Some(_), 0..=59) => "normal",
                    (Some(_), _) => "closed",
                    (None, 0..=96) => "normal",
                    (None, _) => "frozen",
                };
                let row = params![
                    bank_account(bank, 7, p.seq),
                    id(p),
                    BANKS[bank as usize],
                    day(opened),
                    status
                ];
                t.insert(card, row)?;
                if rng.gen_bool(0.003) {
                    t.insert(card, row)?;
                }
            }
        }
        "agriculture" => {
            let land = t.table("land_contract");
            for h in &chunk.households {
                let Some(tenths) = h.land else { continue };
                let head = &people[h.head as usize];
                // Second-round contracts ran from the late 1990s for 30 years, extended 30 more.
                let start = Date::new(rng.gen_range(1997..=2000), 1, 1).expect("1 January exists");
                let until = if rng.gen_bool(0.4) {
                    Date::new(start.year() + 60, 12, 31)
                } else {
                    Date::new(start.year() + 30, 12, 31)
                }
                .expect("31 December exists");
                t.insert(
                    land,
                    params![
                        format!("{}J{:04}", codes.of(h), h.no % 10_000),
                        id(head),
                        codes.of(h),
                        f64::from(tenths) / 10.0,
                        day(start),
                        day(until)
                    ],
                )?;
            }
        }
        other => panic!("no writer for island {other}"),
    }
    Ok(())
}

/// Individual income tax for a year of wages (fen), with the 60,000-yuan standard deduction
/// and the comprehensive-income brackets of the 2018 IIT law, in integer fen.
pub fn income_tax(annual: i64, social_insurance: i64) -> i64 {
    const BRACKETS: [(i64, i64, i64); 7] = [
        (3_600_000, 3, 0),
        (14_400_000, 10, 252_000),
        (30_000_000, 20, 1_692_000),
        (42_000_000, 25, 3_192_000),
        (66_000_000, 30, 5_292_000),
        (96_000_000, 35, 8_592_000),
        (i64::MAX, 45, 18_192_000),
    ];
    let taxable = annual - 6_000_000 - social_insurance;
    if taxable <= 0 {
        return 0;
    }
    let &(_, rate, quick) = BRACKETS
        .iter()
        .find(|(upper, _, _)| taxable <= *upper)
        .expect("the last bracket is open");
    (taxable * rate / 100 - quick).max(0)
}

/// A plate number unique per person: the serial is spread over 34^5 combinations.
fn plate(abbreviation: &str, office: char, serial: u64, new_energy: bool) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut x = serial.wrapping_mul(2_654_435_761) % 45_435_424;
    let mut tail = [0u8; 5];
    for c in tail.iter_mut().rev() {
        *c = CHARS[(x % 34) as usize];
        x /= 34;
    }
    let tail = std::str::from_utf8(&tail).expect("ASCII");
    if new_energy {
        format!("{abbreviation}{office}D{tail}")
    } else {
        format!("{abbreviation}{office}{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_known_numbers() {
        // 79927398713 is the textbook Luhn example.
        assert_eq!(luhn("7992739871"), '3');
        let acct = bank_account(0, 7, 123);
        assert_eq!(acct.len(), 19);
    }

    #[test]
    fn income_tax_brackets() {
        assert_eq!(income_tax(6_000_000, 0), 0);
        // 100,000 yuan wage, 10,500 insurance: taxable 29,500 yuan at 3 %.
        assert_eq!(income_tax(10_000_000, 1_050_000), 88_500);
        // taxable 100,000 yuan: 10 % minus the quick deduction 2,520 yuan.
        assert_eq!(income_tax(16_000_000, 0), 748_000);
    }
}
