use chrono::Duration;

use super::*;

fn plan(key: &str, workspaces: Allowance, features: &[Feature]) -> Plan {
    let mut limits: BTreeMap<Limit, Allowance> = Limit::ALL.iter().map(|l| (*l, Allowance::AtMost(10))).collect();
    limits.insert(Limit::Workspaces, workspaces);
    Plan {
        key: PlanKey::parse(key).expect("key"),
        name: key.to_uppercase(),
        price: None,
        limits,
        features: features.iter().copied().collect(),
        trusted_documents_required: false,
    }
}

#[test]
fn plan_keys_are_short_lower_case_names() {
    assert!(PlanKey::parse("team-2024_b").is_ok());
    for bad in ["", "Team", "a b", "x".repeat(33).as_str(), "über"] {
        assert!(PlanKey::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_catalogue_states_every_limit_once_and_holds_its_default() {
    let free = plan("free", Allowance::AtMost(1), &[]);
    assert!(PlanCatalogue::new(vec![free.clone()], free.key.clone()).is_ok());

    let twice = PlanCatalogue::new(vec![free.clone(), free.clone()], free.key.clone());
    assert!(twice.expect_err("refused").0.contains("defined twice"));

    let mut gap = free.clone();
    gap.limits.remove(&Limit::ApiKeys);
    let missing = PlanCatalogue::new(vec![gap], free.key.clone()).expect_err("refused");
    assert!(missing.0.contains("`api_keys`"), "{missing}");

    let other = PlanKey::parse("team").expect("key");
    assert!(
        PlanCatalogue::new(vec![free.clone()], other)
            .expect_err("refused")
            .0
            .contains("default plan")
    );

    let mut priced = free.clone();
    priced.price = Some(Price {
        amount: 900,
        currency: "usd".into(),
        interval: "month".into(),
    });
    assert!(
        PlanCatalogue::new(vec![priced], free.key)
            .expect_err("refused")
            .0
            .contains("ISO 4217")
    );
}

#[test]
fn a_quota_admits_up_to_its_limit_and_unlimited_admits_always() {
    let now = Utc::now();
    let small = Entitlements::resolve(&plan("free", Allowance::AtMost(2), &[]), &[], now);
    assert!(small.admit_one_more(Limit::Workspaces, 1).is_ok());
    assert_eq!(
        small.admit_one_more(Limit::Workspaces, 2),
        Err(Refusal::QuotaExceeded {
            quota: Limit::Workspaces,
            limit: 2,
            used: 2
        })
    );
    let open = Entitlements::resolve(&plan("big", Allowance::Unlimited, &[]), &[], now);
    assert!(open.admit_one_more(Limit::Workspaces, u64::MAX - 1).is_ok());
}

#[test]
fn a_quota_behind_a_feature_is_refused_without_the_feature() {
    let now = Utc::now();
    let without = Entitlements::resolve(&plan("free", Allowance::Unlimited, &[]), &[], now);
    assert_eq!(
        without.admit_one_more(Limit::WebhookEndpoints, 0),
        Err(Refusal::FeatureNotInPlan(Feature::Webhooks))
    );
    let with = Entitlements::resolve(&plan("team", Allowance::Unlimited, &[Feature::Webhooks]), &[], now);
    assert!(with.admit_one_more(Limit::WebhookEndpoints, 0).is_ok());
}

#[test]
fn live_overrides_apply_and_expired_ones_do_not() {
    let now = Utc::now();
    let base = plan("free", Allowance::AtMost(1), &[Feature::ApiKeys]);
    let overrides = [
        PlanOverride {
            target: OverrideTarget::Limit(Limit::Workspaces, Allowance::AtMost(5)),
            expires_at: Some(now + Duration::days(1)),
            set_at: now,
        },
        PlanOverride {
            target: OverrideTarget::Feature(Feature::Webhooks, true),
            expires_at: Some(now - Duration::seconds(1)),
            set_at: now - Duration::days(2),
        },
        PlanOverride {
            target: OverrideTarget::Feature(Feature::ApiKeys, false),
            expires_at: None,
            set_at: now,
        },
    ];
    let entitled = Entitlements::resolve(&base, &overrides, now);
    assert_eq!(entitled.allowance(Limit::Workspaces), Allowance::AtMost(5));
    assert!(!entitled.has(Feature::Webhooks), "the grant expired");
    assert!(!entitled.has(Feature::ApiKeys), "withheld until cleared");
    let later = Entitlements::resolve(&base, &overrides, now + Duration::days(2));
    assert_eq!(later.allowance(Limit::Workspaces), Allowance::AtMost(1));
}

#[test]
fn names_round_trip() {
    for limit in Limit::ALL {
        assert_eq!(Limit::parse(limit.as_str()), Some(*limit));
    }
    for feature in Feature::ALL {
        assert_eq!(Feature::parse(feature.as_str()), Some(*feature));
    }
    assert_eq!(Limit::parse("bogus"), None);
}

#[test]
fn the_built_in_catalogue_starts_tenants_on_free_and_grows_with_the_plan() {
    let catalogue = PlanCatalogue::built_in();
    let keys: Vec<&str> = catalogue.plans().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["free", "team", "enterprise"]);
    assert_eq!(catalogue.default_key().as_str(), "free");
    let [free, team, enterprise] = [0, 1, 2].map(|i| &catalogue.plans()[i]);
    assert!(!free.features.contains(&Feature::Webhooks));
    assert!(team.features.contains(&Feature::Webhooks));
    assert_eq!(enterprise.allowance(Limit::Seats), Allowance::Unlimited);
    assert!(
        free.allowance(Limit::RequestsPerMinute).as_number() < team.allowance(Limit::RequestsPerMinute).as_number()
    );
    let moved = catalogue
        .clone()
        .with_default(team.key.clone())
        .expect("team is a plan");
    assert_eq!(moved.default_key().as_str(), "team");
    assert!(catalogue.with_default(PlanKey::parse("gold").expect("key")).is_err());
}

#[test]
fn an_allowance_allows_up_to_its_number_and_an_unlimited_one_anything() {
    assert!(Allowance::AtMost(12).allows(12));
    assert!(!Allowance::AtMost(12).allows(13));
    assert!(Allowance::AtMost(0).allows(0));
    assert!(Allowance::Unlimited.allows(u64::MAX));
}
