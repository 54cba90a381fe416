use super::*;

#[test]
fn an_endpoint_is_edited_turned_off_and_on_by_a_person() {
    let now = Utc::now();
    let mut endpoint = WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(uuid::Uuid::nil()),
        tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
        url: WebhookUrl::parse("https://hooks.example.com/in", false).expect("url"),
        description: String::new(),
        events: EventSelection::parse(&["*"]).expect("events"),
        enabled: true,
        disabled_reason: None,
        failed_deliveries_in_a_row: 0,
        created_at: now,
        updated_at: now,
    };
    endpoint.edit(None, None, Some("orders".into()));
    assert_eq!(endpoint.description, "orders");
    assert_eq!(endpoint.url.as_str(), "https://hooks.example.com/in", "kept");
    endpoint.failed_deliveries_in_a_row = 5;
    endpoint.disable("5 deliveries in a row failed".into(), now);
    assert!(!endpoint.wants("workspace.created"));
    endpoint.enable();
    assert!(endpoint.enabled && endpoint.disabled_reason.is_none());
    assert_eq!(endpoint.failed_deliveries_in_a_row, 0, "a fresh start");
    endpoint.turn_off();
    assert!(!endpoint.enabled);
}

#[test]
fn urls_outside_development_must_be_public_https() {
    assert!(WebhookUrl::parse("https://hooks.example.com/in", false).is_ok());
    for bad in [
        "http://hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "https://localhost/in",
        "https://127.0.0.1/in",
        "https://10.1.2.3/in",
        "https://192.168.0.4/in",
        "https://[::1]/in",
        "https://[64:ff9b::7f00:1]/in",
        "https://[64:ff9b:1::a00:1]/in",
        "https://[2002:7f00:1::1]/in",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/in",
        "https://[::7f00:1]/in",
        "https://169.254.169.254/latest",
        "https://intranet/in",
        "https://user:pw@hooks.example.com/in",
        "not a url",
        "",
    ] {
        assert!(WebhookUrl::parse(bad, false).is_err(), "{bad} must be refused");
    }
    assert!(WebhookUrl::parse("http://127.0.0.1:9000/in", true).is_ok());
    assert!(WebhookUrl::parse("ftp://127.0.0.1/in", true).is_err());
}

#[test]
fn addresses_that_lead_to_ipv4_through_a_translator_are_not_public() {
    for hidden in [
        "64:ff9b::7f00:1",
        "64:ff9b::5db8:d822",
        "64:ff9b:1:2::1",
        "2002:c0a8:101::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "::7f00:1",
    ] {
        assert!(!is_public_ip(hidden.parse().expect("an address")), "{hidden}");
    }
    for public in ["2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001::1"] {
        assert!(is_public_ip(public.parse().expect("an address")), "{public}");
    }
}

#[test]
fn selections_take_catalogued_types_or_all() {
    let selection =
        EventSelection::parse(&["workspace.renamed", "workspace.created", "workspace.renamed"]).expect("valid");
    assert_eq!(selection.as_slice(), ["workspace.created", "workspace.renamed"]);
    assert!(selection.includes("workspace.renamed"));
    assert!(!selection.includes("role.created"));
    let all = EventSelection::parse(&["*", "role.created"]).expect("valid");
    assert_eq!(all.as_slice(), ["*"]);
    assert!(all.includes("role.created"));
    assert!(EventSelection::parse::<&str>(&[]).is_err());
    assert!(EventSelection::parse(&["session.logged_in"]).is_err());
}

#[test]
fn retries_back_off_exponentially_within_their_bounds() {
    let policy = RetryPolicy {
        base: Duration::seconds(10),
        max_delay: Duration::seconds(60),
        max_attempts: 5,
        max_age: Duration::minutes(10),
    };
    let created = Utc::now();
    let delay = |attempts, jitter| {
        policy
            .next_attempt(attempts, created, created, jitter)
            .map(|at| (at - created).num_seconds())
    };
    assert_eq!(delay(1, 0.0), Some(10));
    assert_eq!(delay(2, 0.0), Some(20));
    assert_eq!(delay(3, 0.0), Some(40));
    assert_eq!(delay(4, 0.0), Some(60), "capped");
    assert_eq!(delay(2, 0.999_999), Some(10), "jitter takes at most half off");
    assert_eq!(delay(5, 0.0), None, "the last attempt was the fifth");
    let late = created + Duration::seconds(595);
    assert_eq!(policy.next_attempt(1, created, late, 0.0), None, "past the age bound");
}

#[test]
fn an_attempt_succeeds_is_retried_or_gives_up() {
    let now = Utc::now();
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(uuid::Uuid::nil()),
        tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
        url: WebhookUrl::from_stored("https://hooks.example.com".into()),
        description: String::new(),
        events: EventSelection::from_stored(vec!["*".into()]),
        enabled: true,
        disabled_reason: None,
        failed_deliveries_in_a_row: 0,
        created_at: now,
        updated_at: now,
    };
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    };
    let new = || {
        WebhookDelivery::new(
            WebhookDeliveryId::from_uuid(uuid::Uuid::nil()),
            &endpoint,
            uuid::Uuid::nil(),
            "x",
            "{}",
            now,
        )
    };
    let mut ok = new();
    assert_eq!(
        ok.record_attempt(Some(200), None, &policy, now, 0.0),
        AttemptEnd::Succeeded
    );
    assert_eq!(
        (ok.status, ok.completed_at, ok.attempts),
        (DeliveryStatus::Succeeded, Some(now), 1)
    );

    let mut failing = new();
    let error = || Some("HTTP 500".to_owned());
    assert_eq!(
        failing.record_attempt(Some(500), error(), &policy, now, 0.0),
        AttemptEnd::Retrying
    );
    assert_eq!(failing.status, DeliveryStatus::Pending);
    assert_eq!(failing.next_attempt_at, now + policy.base);
    assert_eq!(
        failing.record_attempt(None, error(), &policy, now, 0.0),
        AttemptEnd::GaveUp
    );
    assert_eq!(
        (failing.status, failing.completed_at),
        (DeliveryStatus::Failed, Some(now))
    );
    assert_eq!(failing.last_error.as_deref(), Some("HTTP 500"));
}

#[test]
fn a_rotated_secret_signs_until_it_expires() {
    let now = Utc::now();
    let secrets = SigningSecrets {
        current: "new".into(),
        previous: Some(("old".into(), now + Duration::hours(1))),
    };
    assert_eq!(secrets.active(now), ["new", "old"]);
    assert_eq!(secrets.active(now + Duration::hours(2)), ["new"]);
}
