//! Scope parsing and OpenAPI-style scope requirements.

use deconflict_auth::{require_any, scopes, Claims, ScopeError, Scopes};

fn claims_with(scope: &str) -> Claims {
    Claims {
        sub: "uss1".into(),
        iss: "iss".into(),
        scopes: Scopes::parse(scope),
        exp: 0,
    }
}

#[test]
fn scope_claim_is_space_separated() {
    let s = Scopes::parse("  utm.strategic_coordination   utm.constraint_management ");
    assert_eq!(s.len(), 2);
    assert!(s.has(scopes::STRATEGIC_COORDINATION));
    assert!(s.has(scopes::CONSTRAINT_MANAGEMENT));
    assert!(!s.has("utm"));
    assert_eq!(
        s.to_string(),
        "utm.constraint_management utm.strategic_coordination"
    );
    assert!(Scopes::parse("").is_empty());
    assert_eq!(scopes::ALL.len(), 6);
    assert!(scopes::ALL.contains(&"dss.read.identification_service_areas"));
}

#[test]
fn require_any_is_an_or_of_ands() {
    let c = claims_with("utm.strategic_coordination utm.conformance_monitoring_sa");
    assert!(require_any(&c, &[&[scopes::STRATEGIC_COORDINATION]]).is_ok());
    assert!(require_any(
        &c,
        &[
            &[scopes::CONSTRAINT_MANAGEMENT],
            &[
                scopes::STRATEGIC_COORDINATION,
                scopes::CONFORMANCE_MONITORING_SA
            ],
        ]
    )
    .is_ok());
    // Only half of the AND: refused.
    let err = require_any(
        &c,
        &[&[
            scopes::STRATEGIC_COORDINATION,
            scopes::AVAILABILITY_ARBITRATION,
        ]],
    )
    .unwrap_err();
    let ScopeError::Insufficient { accepted, granted } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(accepted.len(), 1);
    assert_eq!(granted.len(), 2);
}

#[test]
fn scope_error_names_what_would_have_been_accepted() {
    let c = claims_with("utm.constraint_processing");
    let err = require_any(
        &c,
        &[
            &[scopes::CONSTRAINT_MANAGEMENT],
            &[
                scopes::STRATEGIC_COORDINATION,
                scopes::CONFORMANCE_MONITORING_SA,
            ],
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("utm.constraint_management or utm.strategic_coordination + utm.conformance_monitoring_sa"), "{err}");
    assert!(err.contains("grants: utm.constraint_processing"), "{err}");

    let none = require_any(&claims_with(""), &[&[scopes::AVAILABILITY_ARBITRATION]])
        .unwrap_err()
        .to_string();
    assert!(none.contains("grants: none"), "{none}");
}

#[test]
fn empty_requirement_list_fails_closed_and_empty_alternative_passes() {
    let c = claims_with("utm.strategic_coordination");
    assert!(require_any(&c, &[]).is_err());
    assert!(require_any(&claims_with(""), &[&[]]).is_ok());
}
