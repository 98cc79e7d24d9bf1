//! People and households of one county, with the facts each island will record about them.
//!
//! Everything that links islands together is decided here, once per person, so that the
//! correlations hold across islands: a registered poor household's child admitted to
//! university, an eligible student with no subsidy account, the elderly more often disabled.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use errandless_standards::{CitizenId, Date, Uscc};

use crate::names::{given_name, Weighted, SURNAMES};
use crate::plan::County;
use crate::stream_seed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Head,
    Spouse,
    Child,
    Parent,
    Grandchild,
}

impl Relation {
    pub fn code(self) -> &'static str {
        match self {
            Relation::Head => "head",
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
            Relation::Grandchild => "grandchild",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PovertyStatus {
    Active,
    Monitored,
    Lifted,
}

impl PovertyStatus {
    pub fn code(self) -> &'static str {
        match self {
            PovertyStatus::Active => "active",
            PovertyStatus::Monitored => "monitored",
            PovertyStatus::Lifted => "lifted",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Admission {
    pub year: i32,
    pub bachelor: bool,
    pub school: u8,
    pub major: u8,
}

#[derive(Clone, Debug)]
pub struct Employment {
    /// Index into the chunk's businesses.
    pub employer: u32,
    pub started: Date,
    pub occupation: u8,
    /// Monthly wage in fen.
    pub wage: i64,
    pub housing_fund: bool,
}

#[derive(Clone, Debug)]
pub struct Person {
    /// Position of the person in the whole province, the source of local identifiers.
    pub seq: u64,
    pub id: CitizenId,
    pub name: String,
    pub male: bool,
    pub birth: Date,
    pub household: u32,
    pub relation: Relation,
    pub spouse: Option<u32>,
    pub mother: Option<u32>,
    pub father: Option<u32>,
    pub deceased: Option<Date>,
    pub phone: u64,
    /// In the student register as a senior high school student.
    pub high_school: bool,
    pub admission: Option<Admission>,
    pub employment: Option<Employment>,
    /// Disability category (1-7) and grade (1-4).
    pub disability: Option<(u8, u8)>,
    pub veteran: bool,
    /// Holds a subsidy one-card account, and at which bank.
    pub one_card: Option<u8>,
    pub ss_card: bool,
    pub licence: bool,
    pub vehicle: bool,
    /// Listed as a judgment defaulter, owing this many fen.
    pub defaulter: Option<i64>,
}

impl Person {
    pub fn age_on(&self, on: Date) -> i32 {
        self.birth.age_on(on)
    }
}

#[derive(Clone, Debug)]
pub struct Household {
    pub no: u64,
    pub township: u16,
    pub village: u16,
    pub urban: bool,
    pub head: u32,
    pub first: u32,
    pub len: u32,
    pub poor: Option<(PovertyStatus, i32)>,
    /// Monthly minimum living allowance in fen.
    pub dibao: Option<i64>,
    pub property: bool,
    /// Contracted land in tenths of a mu.
    pub land: Option<u32>,
    pub house_no: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusinessKind {
    Individual,
    Company,
    Cooperative,
}

#[derive(Clone, Debug)]
pub struct Business {
    pub uscc: Uscc,
    pub kind: BusinessKind,
    pub representative: u32,
    pub registered: Date,
    pub active: bool,
}

/// One county's people: the unit that flows from the generator to the island writers.
#[derive(Debug)]
pub struct Chunk {
    pub county: usize,
    pub people: Vec<Person>,
    pub households: Vec<Household>,
    pub businesses: Vec<Business>,
}

/// Phone prefixes of the three mobile operators.
const PHONE_PREFIXES: &[u64] = &[
    134, 135, 136, 137, 138, 139, 150, 151, 152, 157, 158, 159, 182, 183, 187, 188, 130, 131, 132,
    155, 156, 185, 186, 133, 153, 180, 181, 189, 199, 177,
];

/// Draws an age for a head of household (years), by ten-year band.
fn head_age(rng: &mut ChaCha8Rng) -> i32 {
    const BANDS: &[(i32, i32, u32)] = &[
        (22, 30, 10),
        (30, 40, 20),
        (40, 50, 22),
        (50, 60, 22),
        (60, 70, 15),
        (70, 80, 8),
        (80, 92, 3),
    ];
    let total: u32 = BANDS.iter().map(|b| b.2).sum();
    let mut x = rng.gen_range(0..total);
    for &(lo, hi, w) in BANDS {
        if x < w {
            return rng.gen_range(lo..hi);
        }
        x -= w;
    }
    unreachable!("the weights cover the range")
}

struct Ids {
    as_of: Date,
    county_code: u32,
    /// Sequence codes used per (birth day, sex); a bijection spreads them over 000-999.
    used: HashMap<(i64, bool), u16>,
    offset: u16,
}

impl Ids {
    /// A unique ID number in this county (GB 11643 §4.3: odd sequence for men, even for
    /// women). When a day's 500 codes are used up, the birth date moves by a day.
    fn assign(&mut self, birth: &mut Date, male: bool) -> CitizenId {
        loop {
            if *birth > self.as_of {
                *birth = self.as_of;
            }
            let count = self
                .used
                .entry((birth.days_since_epoch(), male))
                .or_insert(0);
            if *count < 500 {
                let k = (u32::from(*count) * 37 + u32::from(self.offset)) % 500;
                *count += 1;
                let seq = 2 * k as u16 + u16::from(male);
                return CitizenId::compose(self.county_code, *birth, seq);
            }
            *birth = birth.add_days(-1);
        }
    }
}

/// Generates the people and households of one county.
pub fn generate(county: &County, seed: u64, as_of: Date) -> Chunk {
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, 1, county.index as u64));
    let surnames = Weighted::new(SURNAMES);
    let mut ids = Ids {
        as_of,
        county_code: county.code.county_code(),
        used: HashMap::new(),
        offset: rng.gen_range(0..500),
    };
    let target = county.people as usize;
    let mut people: Vec<Person> = Vec::with_capacity(target);
    let mut households: Vec<Household> = Vec::with_capacity(target / 3 + 1);
    let villages: Vec<(u16, u16, bool)> = county
        .townships
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            t.villages
                .iter()
                .enumerate()
                .map(move |(vi, v)| (ti as u16, vi as u16, v.urban))
        })
        .collect();
    let (urban_villages, rural_villages): (Vec<_>, Vec<_>) =
        villages.iter().copied().partition(|v| v.2);

    let birth_at = |rng: &mut ChaCha8Rng, age: i32| -> Date {
        // A birthday uniformly within the year that gives `age` on `as_of`.
        let latest = Date::new(as_of.year() - age, as_of.month(), 1)
            .expect("first of a month exists")
            .add_days(i64::from(as_of.day()) - 1);
        latest.add_days(-rng.gen_range(0..365))
    };

    while people.len() < target {
        let hh_index = households.len() as u32;
        let first = people.len() as u32;
        let urban = rng.gen_bool(county.urban_share);
        let pool = if urban {
            &urban_villages
        } else {
            &rural_villages
        };
        let pool = if pool.is_empty() { &villages } else { pool };
        let (township, village, urban) = pool[rng.gen_range(0..pool.len())];
        let surname = surnames.draw(&mut rng);
        let mut members: Vec<(i32, bool, Relation, Option<u32>)> = Vec::new();
        let head_age = head_age(&mut rng);
        let head_male = rng.gen_bool(0.78);
        members.push((head_age, head_male, Relation::Head, None));
        let single = rng.gen_bool(if head_age > 70 { 0.35 } else { 0.12 });
        if !single {
            let spouse_age =
                (head_age + rng.gen_range(-3..=3) - if head_male { 2 } else { -2 }).max(20);
            members.push((spouse_age, !head_male, Relation::Spouse, Some(0)));
            let mother_age = if head_male { spouse_age } else { head_age };
            if (24..58).contains(&mother_age) || (mother_age >= 58 && rng.gen_bool(0.3)) {
                let children = match rng.gen_range(0..100) {
                    0..=14 => 0,
                    15..=54 => 1,
                    55..=89 => 2,
                    _ => 3 + u32::from(!urban && rng.gen_bool(0.3)),
                };
                for _ in 0..children {
                    let age = mother_age - rng.gen_range(21..36);
                    if age >= 0 {
                        members.push((age, rng.gen_bool(0.52), Relation::Child, None));
                    }
                }
            }
            if (30..56).contains(&head_age) && rng.gen_bool(if urban { 0.12 } else { 0.25 }) {
                let parents = rng.gen_range(1..=2);
                for p in 0..parents {
                    let age = head_age + rng.gen_range(24..33);
                    members.push((age, p == 0 && rng.gen_bool(0.6), Relation::Parent, None));
                }
            }
            if (50..72).contains(&head_age) && !urban && rng.gen_bool(0.3) {
                for _ in 0..rng.gen_range(1..=2) {
                    let age = rng.gen_range(0..13);
                    members.push((age, rng.gen_bool(0.52), Relation::Grandchild, None));
                }
            }
        }
        let remaining = target - people.len();
        members.truncate(remaining.max(1));

        let head_surname = surname;
        let spouse_surname = surnames.draw(&mut rng);
        for (age, male, relation, _) in members.iter().copied() {
            let mut birth = birth_at(&mut rng, age.min(100));
            let id = ids.assign(&mut birth, male);
            let mut name = String::with_capacity(12);
            name.push_str(match relation {
                Relation::Spouse => spouse_surname,
                Relation::Parent if !head_male => spouse_surname,
                _ => head_surname,
            });
            given_name(&mut rng, male, &mut name);
            let seq = county.people_offset + people.len() as u64;
            let phone_prefix = PHONE_PREFIXES[rng.gen_range(0..PHONE_PREFIXES.len())];
            // A bijection on 0..10^8 keeps numbers unique per prefix.
            let phone =
                phone_prefix * 100_000_000 + (seq.wrapping_mul(2_654_435_761) % 100_000_000);
            people.push(Person {
                seq,
                id,
                name,
                male,
                birth,
                household: hh_index,
                relation,
                spouse: None,
                mother: None,
                father: None,
                deceased: None,
                phone,
                high_school: false,
                admission: None,
                employment: None,
                disability: None,
                veteran: false,
                one_card: None,
                ss_card: false,
                licence: false,
                vehicle: false,
                defaulter: None,
            });
        }
        let len = people.len() as u32 - first;
        // Link spouses and parents.
        let head = first;
        if len > 1 && people[first as usize + 1].relation == Relation::Spouse {
            people[head as usize].spouse = Some(head + 1);
            people[head as usize + 1].spouse = Some(head);
            let (father, mother) = if people[head as usize].male {
                (head, head + 1)
            } else {
                (head + 1, head)
            };
            for i in first..first + len {
                if people[i as usize].relation == Relation::Child {
                    people[i as usize].father = Some(father);
                    people[i as usize].mother = Some(mother);
                }
            }
        }
        households.push(Household {
            no: county.code.county_code() as u64 * 1_000_000 + hh_index as u64 + 1,
            township,
            village,
            urban,
            head,
            first,
            len,
            poor: None,
            dibao: None,
            property: false,
            land: None,
            house_no: rng.gen_range(1..300),
        });
    }

    let mut chunk = Chunk {
        county: county.index,
        people,
        households,
        businesses: Vec::new(),
    };
    assign_facts(&mut chunk, county, &mut rng, as_of);
    chunk
}

/// Decides what each island knows about each person and household.
fn assign_facts(chunk: &mut Chunk, county: &County, rng: &mut ChaCha8Rng, as_of: Date) {
    let Chunk {
        people,
        households,
        businesses,
        ..
    } = chunk;

    // Households: poverty files, minimum living allowance, property and land.
    for h in households.iter_mut() {
        if !h.urban && rng.gen_bool(0.09) {
            let status = match rng.gen_range(0..100) {
                0..=14 => PovertyStatus::Active,
                15..=34 => PovertyStatus::Monitored,
                _ => PovertyStatus::Lifted,
            };
            h.poor = Some((status, rng.gen_range(2014..=2020)));
        }
        let dibao_rate = match h.poor {
            Some((PovertyStatus::Active, _)) => 0.45,
            Some((PovertyStatus::Monitored, _)) => 0.25,
            Some(_) => 0.05,
            None if h.urban => 0.012,
            None => 0.025,
        };
        if rng.gen_bool(dibao_rate) {
            // 2026 rural and urban lines of about 5,500 and 8,000 yuan a year per person.
            let per_head: i64 = if h.urban { 66_000 } else { 46_000 };
            h.dibao = Some(per_head * i64::from(h.len) / 2 + rng.gen_range(0..5_000));
        }
        h.property = rng.gen_bool(if h.urban { 0.72 } else { 0.85 });
        if !h.urban && rng.gen_bool(0.9) {
            h.land = Some(rng.gen_range(8..60));
        }
    }

    // People: death, school, work, disability, accounts, vehicles.
    let mut employable: Vec<u32> = Vec::new();
    for i in 0..people.len() {
        let hh = &households[people[i].household as usize];
        let (urban, poor) = (hh.urban, hh.poor.map(|p| p.0));
        let p = &mut people[i];
        let age = p.age_on(as_of);
        let death_rate = match age {
            0..=64 => 0.0008,
            65..=74 => 0.012,
            75..=84 => 0.04,
            _ => 0.12,
        };
        if rng.gen_bool(death_rate) {
            p.deceased = Some(as_of.add_days(-rng.gen_range(1..900)));
        }
        if (15..=17).contains(&age) && rng.gen_bool(0.62) {
            p.high_school = true;
        }
        // University admission at 18 in the year of admission (2022 to 2026).
        let admitted_at = as_of.year() - age + 18;
        if (18..=22).contains(&age) && admitted_at >= 2022 && admitted_at <= as_of.year() {
            let rate = match poor {
                Some(PovertyStatus::Active | PovertyStatus::Monitored) => 0.36,
                Some(PovertyStatus::Lifted) => 0.42,
                None if urban => 0.72,
                None => 0.5,
            };
            if rng.gen_bool(rate) {
                let bachelor = rng.gen_bool(if poor.is_some() { 0.45 } else { 0.55 });
                p.admission = Some(Admission {
                    year: admitted_at,
                    bachelor,
                    school: if bachelor {
                        rng.gen_range(0..12)
                    } else {
                        rng.gen_range(12..18)
                    },
                    major: rng.gen_range(0..16),
                });
            }
        }
        let disability_rate = match age {
            0..=17 => 0.008,
            18..=44 => 0.022,
            45..=59 => 0.05,
            60..=74 => 0.1,
            _ => 0.2,
        };
        if rng.gen_bool(disability_rate) {
            let category = if age >= 60 && rng.gen_bool(0.4) {
                4
            } else {
                rng.gen_range(1..=7)
            };
            p.disability = Some((category, rng.gen_range(1..=4)));
        }
        p.veteran = p.male && (35..=75).contains(&age) && rng.gen_bool(0.03);
        // Subsidy accounts: nearly every rural household head and elderly person, most
        // students from registered poor households (not all: those are the near misses).
        let one_card_rate = if p.admission.is_some() && poor.is_some() {
            0.82
        } else if age >= 80 {
            0.95
        } else if p.relation == Relation::Head && !urban {
            0.9
        } else if age >= 18 && !urban {
            0.35
        } else if age >= 18 {
            0.12
        } else {
            0.0
        };
        if rng.gen_bool(one_card_rate) {
            p.one_card = Some(rng.gen_range(0..8));
        }
        p.ss_card = age >= 16 && rng.gen_bool(0.88);
        let licence_rate = match (age, p.male, urban) {
            (18..=70, true, true) => 0.7,
            (18..=70, false, true) => 0.45,
            (18..=70, true, false) => 0.45,
            (18..=70, false, false) => 0.18,
            _ => 0.0,
        };
        p.licence = rng.gen_bool(licence_rate);
        p.vehicle = p.licence && rng.gen_bool(0.6);
        if (18..=60).contains(&age) && p.deceased.is_none() && p.admission.is_none() {
            employable.push(i as u32);
        }
        if age >= 18 && rng.gen_bool(0.003) {
            p.defaulter = Some(rng.gen_range(500_000..50_000_000));
        }
    }

    // Businesses: registered by about 4 % of working-age people.
    let mut employers = Vec::new();
    for &i in &employable {
        if rng.gen_bool(0.04) {
            let kind = match rng.gen_range(0..100) {
                0..=69 => BusinessKind::Individual,
                70..=94 => BusinessKind::Company,
                _ => BusinessKind::Cooperative,
            };
            let (authority, type_code) = match kind {
                BusinessKind::Individual => (b'9', b'2'),
                BusinessKind::Company => (b'9', b'1'),
                BusinessKind::Cooperative => (b'9', b'3'),
            };
            let serial = (county.index as u32 * 1_000_000 + businesses.len() as u32) % 100_000_000;
            // Spread organisation codes so they do not look sequential (a bijection mod 10^8).
            let org = (u64::from(serial) * 48_271 + 10_000_019) % 100_000_000;
            let b = Business {
                uscc: Uscc::compose(authority, type_code, county.code.county_code(), org as u32),
                kind,
                representative: i,
                registered: as_of.add_days(-rng.gen_range(30..9000)),
                active: rng.gen_bool(0.88),
            };
            if kind != BusinessKind::Individual && b.active {
                employers.push(businesses.len() as u32);
            }
            businesses.push(b);
        }
    }
    // Employment: most urban and many rural working-age adults work for a registered
    // employer; others farm, study or work away.
    for &i in &employable {
        let p = &mut people[i as usize];
        let urban = households[p.household as usize].urban;
        if employers.is_empty() || !rng.gen_bool(if urban { 0.66 } else { 0.32 }) {
            continue;
        }
        let age = p.age_on(as_of);
        let years = rng.gen_range(0..=(age - 18).clamp(0, 20));
        let employer = employers[rng.gen_range(0..employers.len())];
        let wage = if urban {
            rng.gen_range(350_000..1_800_000)
        } else {
            rng.gen_range(250_000..700_000)
        };
        p.employment = Some(Employment {
            employer,
            started: as_of.add_days(-i64::from(years) * 365 - rng.gen_range(0..365)),
            occupation: rng.gen_range(0..15),
            wage,
            housing_fund: businesses[employer as usize].kind == BusinessKind::Company
                && rng.gen_bool(0.65),
        });
    }
}
