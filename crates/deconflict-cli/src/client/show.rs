//! Tables for a person at a terminal. `--json` bypasses all of this and prints what the server
//! sent, so nothing here needs to be stable for scripts.

use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{ContentArrangement, LineStyle, Table, TableStyle};
use deconflict_core::wire::{
    ConstraintReference, OperationalIntentReference, SubscriberToNotify, Subscription, Time,
    UssAvailabilityStatusResponse,
};

/// Aligned columns under an underlined header, as `ps` or `kubectl get` print them: easy to
/// read, and a row is one line to grep.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction(' '));

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    // No wrapping: ids and OVNs stay whole, so they can be copied and grepped.
    t.load_style(STYLE)
        .set_content_arrangement(ContentArrangement::Disabled);
    if !header.is_empty() {
        t.set_header(header.iter().copied());
    }
    t
}

/// A time to the second, in UTC; as sent when it does not read as RFC 3339.
pub fn time(t: &Time) -> String {
    DateTime::parse_from_rfc3339(&t.value)
        .map(|d| {
            d.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| t.value.clone())
}

fn opt_time(t: Option<&Time>) -> String {
    t.map(time).unwrap_or_else(|| "-".to_owned())
}

/// The OVN only goes to its manager; others see a dash.
fn ovn(o: Option<&String>) -> String {
    o.cloned().unwrap_or_else(|| "-".to_owned())
}

pub fn intents(list: &[OperationalIntentReference]) -> Table {
    let mut t = table(&["id", "manager", "state", "version", "start", "end", "ovn"]);
    for oi in list {
        t.add_row([
            oi.id.clone(),
            oi.manager.clone(),
            oi.state.clone(),
            oi.version.to_string(),
            time(&oi.time_start),
            time(&oi.time_end),
            ovn(oi.ovn.as_ref()),
        ]);
    }
    t
}

/// The intents of an airspace conflict: what to ask their managers about.
pub fn missing_intents(list: &[OperationalIntentReference]) -> Table {
    let mut t = table(&[
        "id",
        "manager",
        "state",
        "version",
        "start",
        "end",
        "uss_base_url",
    ]);
    for oi in list {
        t.add_row([
            oi.id.clone(),
            oi.manager.clone(),
            oi.state.clone(),
            oi.version.to_string(),
            time(&oi.time_start),
            time(&oi.time_end),
            oi.uss_base_url.clone(),
        ]);
    }
    t
}

pub fn intent(oi: &OperationalIntentReference) -> Table {
    fields([
        ("id", oi.id.clone()),
        ("manager", oi.manager.clone()),
        ("state", oi.state.clone()),
        ("version", oi.version.to_string()),
        ("ovn", ovn(oi.ovn.as_ref())),
        ("start", time(&oi.time_start)),
        ("end", time(&oi.time_end)),
        ("uss_base_url", oi.uss_base_url.clone()),
        ("subscription_id", oi.subscription_id.clone()),
        ("uss_availability", oi.uss_availability.clone()),
    ])
}

pub fn constraints(list: &[ConstraintReference]) -> Table {
    let mut t = table(&["id", "manager", "version", "start", "end", "ovn"]);
    for c in list {
        t.add_row([
            c.id.clone(),
            c.manager.clone(),
            c.version.to_string(),
            time(&c.time_start),
            time(&c.time_end),
            ovn(c.ovn.as_ref()),
        ]);
    }
    t
}

pub fn missing_constraints(list: &[ConstraintReference]) -> Table {
    let mut t = table(&["id", "manager", "version", "start", "end", "uss_base_url"]);
    for c in list {
        t.add_row([
            c.id.clone(),
            c.manager.clone(),
            c.version.to_string(),
            time(&c.time_start),
            time(&c.time_end),
            c.uss_base_url.clone(),
        ]);
    }
    t
}

pub fn constraint(c: &ConstraintReference) -> Table {
    fields([
        ("id", c.id.clone()),
        ("manager", c.manager.clone()),
        ("version", c.version.to_string()),
        ("ovn", ovn(c.ovn.as_ref())),
        ("start", time(&c.time_start)),
        ("end", time(&c.time_end)),
        ("uss_base_url", c.uss_base_url.clone()),
        ("uss_availability", c.uss_availability.clone()),
    ])
}

fn notify(s: &Subscription) -> String {
    match (s.notify_for_operational_intents, s.notify_for_constraints) {
        (true, true) => "intents, constraints",
        (true, false) => "intents",
        (false, true) => "constraints",
        (false, false) => "-",
    }
    .to_owned()
}

pub fn subscriptions(list: &[Subscription]) -> Table {
    let mut t = table(&["id", "version", "notify", "start", "end", "uss_base_url"]);
    for s in list {
        t.add_row([
            s.id.clone(),
            s.version.clone(),
            notify(s),
            opt_time(s.time_start.as_ref()),
            opt_time(s.time_end.as_ref()),
            s.uss_base_url.clone(),
        ]);
    }
    t
}

pub fn subscription(s: &Subscription) -> Table {
    fields([
        ("id", s.id.clone()),
        ("version", s.version.clone()),
        ("notify for", notify(s)),
        ("start", opt_time(s.time_start.as_ref())),
        ("end", opt_time(s.time_end.as_ref())),
        ("uss_base_url", s.uss_base_url.clone()),
        ("notification_index", s.notification_index.to_string()),
        ("implicit", s.implicit_subscription.to_string()),
        (
            "dependent intents",
            if s.dependent_operational_intents.is_empty() {
                "-".to_owned()
            } else {
                s.dependent_operational_intents.join("\n")
            },
        ),
    ])
}

/// Who the writer must now tell about its change (F3548: the USS notifies, not the DSS).
pub fn subscribers(list: &[SubscriberToNotify]) -> Table {
    let mut t = table(&["notify uss_base_url", "subscription", "notification_index"]);
    for s in list {
        for sub in &s.subscriptions {
            t.add_row([
                s.uss_base_url.clone(),
                sub.subscription_id.clone(),
                sub.notification_index.to_string(),
            ]);
        }
    }
    t
}

pub fn availability(a: &UssAvailabilityStatusResponse) -> Table {
    let mut t = table(&["uss", "availability", "version"]);
    t.add_row([
        a.status.uss.clone(),
        a.status.availability.clone(),
        a.version.clone(),
    ]);
    t
}

fn fields<const N: usize>(rows: [(&str, String); N]) -> Table {
    let mut t = table(&[]);
    for (k, v) in rows {
        t.add_row([k.to_owned(), v]);
    }
    t
}

/// Rows an import refused: where in the file, and why.
pub fn refused_rows(list: &[(String, String)]) -> Table {
    let mut t = table(&["where", "reason"]);
    for (at, reason) in list {
        t.add_row([at.clone(), reason.clone()]);
    }
    t
}

/// Sites of the humanitarian layer.
pub fn sites(list: &[deconflict_humanitarian::site::Site]) -> Table {
    let mut t = table(&["id", "party", "external id", "category", "name"]);
    for s in list {
        t.add_row([
            s.id.clone(),
            s.party.clone(),
            s.content.external_id.clone(),
            s.content.category.as_str().to_owned(),
            s.content.name.clone(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_to_the_second_in_utc() {
        let t = |v: &str| {
            time(&Time {
                value: v.to_owned(),
                format: "RFC3339".to_owned(),
            })
        };
        assert_eq!(t("2030-01-01T12:00:00.123+01:00"), "2030-01-01T11:00:00Z");
        assert_eq!(t("garbage"), "garbage");
    }
}
