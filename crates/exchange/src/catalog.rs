//! The catalog: which datasets are published, what elements they hold, how sensitive each is
//! and which department owns it, as X-Road's `listMethods` and `getOpenAPI` describe a
//! provider's services.

use errandless_standards::{Dataset, ElementType, Sensitivity, Standard, SubjectLink};
use serde::Serialize;

/// A dataset as the catalog lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetSummary {
    pub id: String,
    pub zh: String,
    pub en: String,
    /// The owning department (a member identifier).
    pub owner: String,
    /// The highest sensitivity of its fields.
    pub sensitivity: Sensitivity,
}

/// A dataset described in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetDescription {
    pub summary: DatasetSummary,
    pub owner_zh: String,
    pub owner_en: String,
    /// How rows name their subject: `person`, `person_via:<dataset>` or `organisation`.
    pub subject: String,
    pub fields: Vec<FieldDescription>,
}

/// One field of a dataset and the data element behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDescription {
    pub name: String,
    pub element: String,
    pub zh: String,
    pub en: String,
    #[serde(rename = "type")]
    pub ty: ElementType,
    pub required: bool,
    pub sensitivity: Sensitivity,
    /// The allowed codes, if the element has a code list.
    pub values: Vec<String>,
}

/// The published datasets, in the order of their identifiers.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    datasets: Vec<&'static Dataset>,
}

impl Catalog {
    /// A catalog of `published` datasets of the built-in standard.
    pub fn new(published: impl IntoIterator<Item = &'static Dataset>) -> Catalog {
        let mut datasets: Vec<&'static Dataset> = published.into_iter().collect();
        datasets.sort_by(|a, b| a.id.cmp(&b.id));
        datasets.dedup_by(|a, b| a.id == b.id);
        Catalog { datasets }
    }

    /// Every published dataset.
    pub fn list(&self) -> Vec<DatasetSummary> {
        self.datasets.iter().map(|d| summary(d)).collect()
    }

    /// The published datasets of one owner.
    pub fn list_of(&self, owner: &str) -> Vec<DatasetSummary> {
        self.datasets
            .iter()
            .filter(|d| d.department == owner)
            .map(|d| summary(d))
            .collect()
    }

    /// One published dataset in full, or `None` if it is not published.
    pub fn describe(&self, id: &str) -> Option<DatasetDescription> {
        let d = self.datasets.iter().find(|d| d.id == id)?;
        let standard = Standard::builtin();
        let owner = standard.department(&d.department);
        Some(DatasetDescription {
            summary: summary(d),
            owner_zh: owner.map_or_else(String::new, |o| o.zh.clone()),
            owner_en: owner.map_or_else(String::new, |o| o.en.clone()),
            subject: match &d.subject {
                SubjectLink::Direct { .. } => "person".into(),
                SubjectLink::Via { dataset, .. } => format!("person_via:{dataset}"),
                SubjectLink::Organisation { .. } => "organisation".into(),
            },
            fields: d
                .fields
                .iter()
                .filter_map(|f| {
                    let e = standard.element(&f.element)?;
                    Some(FieldDescription {
                        name: f.name.clone(),
                        element: e.id.clone(),
                        zh: e.zh.clone(),
                        en: e.en.clone(),
                        ty: e.ty,
                        required: f.required,
                        sensitivity: e.sensitivity,
                        values: e.values.clone(),
                    })
                })
                .collect(),
        })
    }

    /// Whether `id` is published.
    pub fn contains(&self, id: &str) -> bool {
        self.datasets.iter().any(|d| d.id == id)
    }
}

/// The sensitivity of one field of a dataset of the built-in standard.
pub fn field_sensitivity(dataset: &Dataset, field: &str) -> Option<Sensitivity> {
    let f = dataset.field(field)?;
    Standard::builtin()
        .element(&f.element)
        .map(|e| e.sensitivity)
}

fn summary(d: &Dataset) -> DatasetSummary {
    DatasetSummary {
        id: d.id.clone(),
        zh: d.zh.clone(),
        en: d.en.clone(),
        owner: d.department.clone(),
        sensitivity: d
            .fields
            .iter()
            .filter_map(|f| field_sensitivity(d, &f.name))
            .max()
            .unwrap_or(Sensitivity::Public),
    }
}
