//! The division plan of the province: cities, counties, townships and villages with their
//! 12-digit codes and names, and how many people live in each county.
//!
//! Counts scale with the population so a small province stays realistic: about one county per
//! 60,000 people (at most 88, as in Guizhou), one township per 8,000 and one village per 1,200.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use errandless_standards::{DivisionCode, Province};

use crate::names::place_stem;
use crate::stream_seed;

#[derive(Clone, Debug)]
pub struct City {
    pub code: DivisionCode,
    pub name: String,
    /// The plate's issuing-office letter (GA 36).
    pub plate_letter: char,
}

#[derive(Clone, Debug)]
pub struct Village {
    pub code: DivisionCode,
    pub name: String,
    pub urban: bool,
}

#[derive(Clone, Debug)]
pub struct Township {
    pub code: DivisionCode,
    pub name: String,
    /// The name it had before it was renamed, which old records still carry.
    pub former_name: String,
    pub villages: Vec<Village>,
}

#[derive(Clone, Debug)]
pub struct County {
    pub index: usize,
    pub city: usize,
    pub code: DivisionCode,
    pub name: String,
    /// An urban district (区) rather than a county (县).
    pub district: bool,
    /// The share of households living in urban communities.
    pub urban_share: f64,
    pub people: u64,
    /// The number of people in all counties before this one.
    pub people_offset: u64,
    pub townships: Vec<Township>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub province: &'static Province,
    pub cities: Vec<City>,
    pub counties: Vec<County>,
}

const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

impl Plan {
    pub fn new(province: &'static Province, people: u64, seed: u64) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, 0, 0));
        let n_cities = ((people as f64).sqrt() / 40.0).ceil().clamp(1.0, 9.0) as usize;
        let n_counties = ((people / 60_000) as usize).clamp(n_cities, 88);

        let mut cities = Vec::with_capacity(n_cities);
        let mut used = std::collections::BTreeSet::new();
        for c in 0..n_cities {
            let name = unique(&mut rng, &mut used, "市");
            cities.push(City {
                code: DivisionCode::from_parts(province.code, c as u8 + 1, 0, 0, 0),
                name,
                plate_letter: char::from(PLATE_LETTERS[c % PLATE_LETTERS.len()]),
            });
        }

        // Spread counties over cities (the first city, the capital, gets the remainder) and
        // people over counties with weights between 0.5 and 1.5.
        let weights: Vec<f64> = (0..n_counties).map(|_| rng.gen_range(0.5..1.5)).collect();
        let total: f64 = weights.iter().sum();
        let mut alloc: Vec<u64> = weights
            .iter()
            .map(|w| (people as f64 * w / total).floor() as u64)
            .collect();
        let mut short = people - alloc.iter().sum::<u64>();
        let mut i = 0;
        while short > 0 {
            alloc[i % n_counties] += 1;
            short -= 1;
            i += 1;
        }

        let mut counties = Vec::with_capacity(n_counties);
        let mut per_city = vec![0u8; n_cities];
        let mut offset = 0;
        for (index, &county_people) in alloc.iter().enumerate() {
            let city = if index < n_cities {
                index
            } else {
                (index - n_cities) % n_cities
            };
            per_city[city] += 1;
            let nth = per_city[city];
            // GB/T 2260 convention: 01-20 for districts, 21 and up for counties.
            let district = nth <= 2;
            let county_part = if district { nth } else { 20 + nth - 2 };
            let code = DivisionCode::from_parts(province.code, city as u8 + 1, county_part, 0, 0);
            let suffix = if district { "区" } else { "县" };
            let name = unique(&mut rng, &mut used, suffix);

            let n_townships = ((county_people / 8_000) as usize).clamp(3, 30);
            // Districts are mostly streets; counties have one street at the county seat.
            let n_streets = if district { n_townships.div_ceil(2) } else { 1 };
            let mut townships = Vec::with_capacity(n_townships);
            let (mut streets, mut towns) = (0u16, 0u16);
            for t in 0..n_townships {
                let street = t < n_streets;
                let (part, suffix) = if street {
                    streets += 1;
                    (streets, "街道")
                } else {
                    towns += 1;
                    (100 + towns, if towns % 3 == 0 { "乡" } else { "镇" })
                };
                let tcode =
                    DivisionCode::from_parts(province.code, city as u8 + 1, county_part, part, 0);
                let tname = unique(&mut rng, &mut used, suffix);
                let former_name = format!("{}{}", place_stem(&mut rng), suffix);
                let township_people = county_people / n_townships as u64;
                // A town has its seat community and at least one village.
                let min_villages = if street { 1 } else { 2 };
                let n_villages = ((township_people / 1_200) as usize).clamp(min_villages, 20);
                let mut villages = Vec::with_capacity(n_villages);
                for v in 0..n_villages {
                    // Streets hold residents' committees (社区, codes 001-199); towns hold a
                    // seat community and villages (村, codes 200 and up).
                    let urban = street || v == 0;
                    let vpart = if urban { 1 + v as u16 } else { 200 + v as u16 };
                    villages.push(Village {
                        code: DivisionCode::from_parts(
                            province.code,
                            city as u8 + 1,
                            county_part,
                            part,
                            vpart,
                        ),
                        name: format!(
                            "{}{}",
                            place_stem(&mut rng),
                            if urban { "社区" } else { "村" }
                        ),
                        urban,
                    });
                }
                townships.push(Township {
                    code: tcode,
                    name: tname,
                    former_name,
                    villages,
                });
            }
            counties.push(County {
                index,
                city,
                code,
                name,
                district,
                urban_share: if district { 0.78 } else { 0.4 },
                people: county_people,
                people_offset: offset,
                townships,
            });
            offset += county_people;
        }
        Plan {
            province,
            cities,
            counties,
        }
    }

    /// Every division of all five levels, parents before children: (code, name).
    pub fn divisions(&self) -> Vec<(DivisionCode, String)> {
        let mut out = vec![(
            DivisionCode::from_parts(self.province.code, 0, 0, 0, 0),
            self.province.zh.to_string(),
        )];
        for (ci, city) in self.cities.iter().enumerate() {
            out.push((city.code, city.name.clone()));
            for county in self.counties.iter().filter(|c| c.city == ci) {
                out.push((county.code, county.name.clone()));
                for t in &county.townships {
                    out.push((t.code, t.name.clone()));
                    for v in &t.villages {
                        out.push((v.code, v.name.clone()));
                    }
                }
            }
        }
        out
    }
}

fn unique(
    rng: &mut ChaCha8Rng,
    used: &mut std::collections::BTreeSet<String>,
    suffix: &str,
) -> String {
    loop {
        let name = format!("{}{suffix}", place_stem(rng));
        if used.insert(name.clone()) {
            return name;
        }
    }
}
