//! The plan catalogue as a TOML file (`PLANS_FILE`): read at start, refused with a
//! message naming the plan and the mistake. `deploy/plans.example.toml` is the
//! built-in catalogue written in this format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use tessera_domain::{Allowance, Feature, Limit, Plan, PlanCatalogue, PlanKey, Price};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    /// The plan new tenants start on.
    default: String,
    plans: Vec<PlanEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanEntry {
    key: String,
    name: String,
    price: Option<PriceEntry>,
    /// Every limit by name: a number, or the string `"unlimited"`.
    limits: BTreeMap<String, LimitValue>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    trusted_documents_required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceEntry {
    amount: u64,
    currency: String,
    interval: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LimitValue {
    Number(u64),
    Word(String),
}

/// Reads and checks the catalogue in `path`.
pub fn load_catalogue(path: &Path) -> Result<PlanCatalogue, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_catalogue(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks a catalogue written in the file format.
pub fn parse_catalogue(text: &str) -> Result<PlanCatalogue, String> {
    let file: CatalogueFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let plans = file.plans.into_iter().map(plan).collect::<Result<Vec<_>, _>>()?;
    let default = PlanKey::parse(&file.default).map_err(|e| format!("default: {e}"))?;
    PlanCatalogue::new(plans, default).map_err(|e| e.to_string())
}

fn plan(entry: PlanEntry) -> Result<Plan, String> {
    let key = PlanKey::parse(&entry.key)?;
    let mut limits = BTreeMap::new();
    for (name, value) in entry.limits {
        let limit = Limit::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = Limit::ALL.iter().map(|l| l.as_str()).collect();
            format!("plan `{key}`: unknown limit `{name}` (known: {})", known.join(", "))
        })?;
        let allowance = match value {
            LimitValue::Number(n) => Allowance::AtMost(n),
            LimitValue::Word(word) if word == "unlimited" => Allowance::Unlimited,
            LimitValue::Word(word) => {
                return Err(format!(
                    "plan `{key}`: limit `{name}` is `{word}`; write a number or \"unlimited\""
                ));
            }
        };
        limits.insert(limit, allowance);
    }
    let mut features = BTreeSet::new();
    for name in entry.features {
        let feature = Feature::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.as_str()).collect();
            format!("plan `{key}`: unknown feature `{name}` (known: {})", known.join(", "))
        })?;
        features.insert(feature);
    }
    Ok(Plan {
        key,
        name: entry.name,
        price: entry.price.map(|p| Price {
            amount: p.amount,
            currency: p.currency,
            interval: p.interval,
        }),
        limits,
        features,
        trusted_documents_required: entry.trusted_documents_required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../deploy/plans.example.toml");

    /// The README's example plan, and the bench's catalogue, are valid catalogues.
    #[test]
    fn the_readme_example_and_the_bench_catalogue_are_read() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\ndefault = \"starter\"")
            .expect("the README's example catalogue")
            + 8;
        let example = &readme[start..][..readme[start..].find("```").expect("its end")];
        let catalogue = parse_catalogue(example).expect("the README's example");
        let starter = catalogue
            .get(&PlanKey::parse("starter").expect("key"))
            .expect("starter");
        assert!(starter.trusted_documents_required);
        assert_eq!(starter.limits[&Limit::MaxQueryDepth], Allowance::AtMost(10));
        let bench = parse_catalogue(include_str!("../../../scripts/bench/plans.toml")).expect("the bench's");
        assert_eq!(bench.plans().len(), 3);
    }

    #[test]
    fn the_example_file_is_the_built_in_catalogue() {
        assert_eq!(parse_catalogue(EXAMPLE), Ok(PlanCatalogue::built_in()));
    }

    #[test]
    fn mistakes_are_refused_with_the_plan_and_the_mistake_named() {
        let broken = |from: &str, to: &str| {
            assert!(EXAMPLE.contains(from), "{from}");
            parse_catalogue(&EXAMPLE.replacen(from, to, 1)).expect_err(to)
        };
        assert!(broken("seats = 5", "seets = 5").contains("unknown limit `seets`"));
        assert!(broken("seats = 5", "seats = \"lots\"").contains("write a number or \"unlimited\""));
        assert!(broken("seats = 5\n", "").contains("does not state its `seats` limit"));
        assert!(
            broken("features = [\"api_keys\"]", "features = [\"teleport\"]").contains("unknown feature `teleport`")
        );
        assert!(broken("default = \"free\"", "default = \"gold\"").contains("default plan `gold`"));
        assert!(broken("name = \"Free\"", "nmae = \"Free\"").contains("nmae"));
    }
}
