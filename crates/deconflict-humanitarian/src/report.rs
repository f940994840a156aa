//! The accountability record of an incident: for each site or movement it concerns, when it
//! was notified, to which parties, when each acknowledged, and each DSS write by each party
//! whose key included the site's OVN (proof that it planned with the site in view), each fact
//! citing its entry in the tamper-evident log.
//!
//! [`Accountability`] is the record as data (what the API answers in JSON); [`markdown`] and
//! [`html`] render it for a reader who is not an engineer. Both renderings go through one
//! outline of [`Block`]s, so they say the same thing; every text from outside (names,
//! descriptions, party ids) is escaped for the format it lands in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::incident::{Incident, Matched, MATCH_MARGIN_M, MATCH_TIME_MARGIN};

/// A log entry a statement rests on, with what a reader needs to check it offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// The entry's index in the log (from 0).
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The entry's canonical record, as hashed into the log.
    pub record: String,
    /// The RFC 9162 inclusion proof of the entry in the tree of `tree_size` entries (base64
    /// hashes).
    pub proof: Vec<String>,
}

/// The log the citations point into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHead {
    /// The log's public key, signed-note verifier form.
    pub key: String,
    /// Entries in the log when the record was made; every proof is for this size.
    pub tree_size: u64,
    /// The latest signed checkpoint, when one covers `tree_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// A party as the record names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its role, when it is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A party's acknowledgment of a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub time: DateTime<Utc>,
    /// Whether the party signed it with its own registered key (verified by the server).
    pub signed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Citation>,
}

/// A notification of the site or movement to a party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Told {
    pub notification: String,
    pub party: PartyRef,
    pub sent: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Citation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledged>,
}

/// A DSS write whose key held one of the site's or movement's OVNs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedWith {
    pub party: PartyRef,
    /// `operational_intent`, `constraint` ...
    pub entity_type: String,
    pub entity: String,
    /// When the write was made (as the log records it).
    pub time: String,
    /// The site's or movement's OVN the key held.
    pub ovn: String,
    pub log: Citation,
}

/// One site or movement the incident concerns, and what the record shows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concern {
    #[serde(flatten)]
    pub matched: Matched,
    /// The humanitarian party that notified it.
    pub notified_by: PartyRef,
    /// The log entries of its notification and changes.
    #[serde(default)]
    pub notified_log: Vec<Citation>,
    /// The OVNs it has had in the DSS, as far as the log shows.
    #[serde(default)]
    pub ovns: Vec<String>,
    /// The parties it was notified to.
    #[serde(default)]
    pub told: Vec<Told>,
    /// The DSS writes whose key included one of its OVNs.
    #[serde(default)]
    pub planned_with: Vec<PlannedWith>,
}

/// The accountability record of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accountability {
    pub incident: Incident,
    pub reporter: PartyRef,
    /// When this record was made.
    pub generated: DateTime<Utc>,
    /// The server's base URL.
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogHead>,
    pub concerns: Vec<Concern>,
}

/// A piece of running text.
#[derive(Debug, Clone, PartialEq)]
enum Inline {
    Text(String),
    Strong(String),
    Code(String),
}

/// A block of the outline both renderings share.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(u8, String),
    Paragraph(Vec<Inline>),
    List(Vec<Vec<Inline>>),
    Quote(String),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

fn strong(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

fn code(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}

/// A time as people read it: `27 November 2026, 21:04:05 UTC`.
fn when(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y, %H:%M:%S UTC").to_string()
}

/// A stretch of time as people read it: `3 h 12 min`, `45 s`.
fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().abs();
    let (days, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{sec} s"),
        (0, 0, _) => format!("{m} min {sec} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{days} d {h} h"),
    }
}

fn party(p: &PartyRef) -> String {
    let mut s = p.id.clone();
    match (p.name.is_empty(), &p.role) {
        (false, Some(r)) => s.push_str(&format!(" ({}, {r})", p.name)),
        (false, None) => s.push_str(&format!(" ({})", p.name)),
        (true, Some(r)) => s.push_str(&format!(" ({r})")),
        (true, None) => {}
    }
    s
}

fn cite(c: &Option<Citation>) -> Inline {
    match c {
        Some(c) => text(format!("log entry #{}", c.index)),
        None => text("not in the log"),
    }
}

fn location(i: &Incident) -> String {
    match &i.content.location.value {
        geojson::Value::Point(p) if p.len() >= 2 => {
            let (lng, lat) = (p[0], p[1]);
            let ns = if lat >= 0.0 { "N" } else { "S" };
            let ew = if lng >= 0.0 { "E" } else { "W" };
            let mut s = format!("{:.5}° {ns}, {:.5}° {ew}", lat.abs(), lng.abs());
            if let Some(r) = i.content.radius_m {
                s.push_str(&format!(" (within {r} m)"));
            }
            s
        }
        geojson::Value::Polygon(rings) => format!(
            "an area of {} corners (GeoJSON in the JSON form of this record)",
            rings.first().map_or(0, |r| r.len().saturating_sub(1))
        ),
        _ => "see the JSON form of this record".to_owned(),
    }
}

fn describe(m: &Matched) -> String {
    match m {
        Matched::Site(s) => {
            let mut d = format!("protected site, category {}", s.content.category.as_str());
            match (s.content.radius_m, &s.content.geometry.value) {
                (Some(r), _) => d.push_str(&format!(", protected within {r} m of its point")),
                (None, geojson::Value::Polygon(_)) => d.push_str(", protected as an area"),
                _ => {}
            }
            d
        }
        Matched::Movement(m) => format!(
            "aid movement on a corridor {} m wide, leaving between {} and {}, arriving between {} and {}",
            m.content.corridor_width_m,
            when(m.content.departure.earliest),
            when(m.content.departure.latest),
            when(m.content.arrival.earliest),
            when(m.content.arrival.latest)
        ),
    }
}

/// The outline of the record.
fn outline(a: &Accountability) -> Vec<Block> {
    let i = &a.incident;
    let mut out = vec![
        Block::Heading(1, format!("Accountability record of incident {}", i.id)),
        Block::Paragraph(vec![text(format!(
            "Made on {} by the deconfliction service at {}. Each statement below names the \
             entry of the service's tamper-evident log that records it; the last section says \
             how anyone can check those entries.",
            when(a.generated),
            a.server
        ))]),
        Block::Heading(2, "What was reported".into()),
        Block::List(vec![
            vec![strong("When: "), text(when(i.content.time))],
            vec![strong("Where: "), text(location(i))],
            vec![
                strong("What: "),
                text(format!(
                    "{} (confidence: {})",
                    i.content.category.as_str().replace('_', " "),
                    i.content.confidence.as_str()
                )),
            ],
            vec![strong("Source: "), text(i.content.source.clone())],
            vec![
                strong("Reported by: "),
                text(format!("{}, on {}", party(&a.reporter), when(i.reported))),
            ],
        ]),
    ];
    if !i.content.description.is_empty() {
        out.push(Block::Quote(i.content.description.clone()));
    }
    out.push(Block::Heading(2, "What it concerns".into()));
    out.push(Block::Paragraph(vec![text(format!(
        "An incident concerns a protected site or an aid movement when it happened within \
         {MATCH_MARGIN_M} m of the area the site or movement protects, and within {} minutes \
         of the time that protection was in force. {}",
        MATCH_TIME_MARGIN.num_minutes(),
        match a.concerns.len() {
            0 => "No notified site or movement meets this rule.".to_owned(),
            1 => "One does:".to_owned(),
            n => format!("{n} do:"),
        }
    ))]));
    for c in &a.concerns {
        concern(&mut out, c, i);
    }
    out.push(Block::Heading(2, "How to check this record".into()));
    let mut check = vec![text(
        "The service keeps a tamper-evident log: an append-only list of records in which \
         each entry is bound to all the entries before it by cryptographic hashes, and whose \
         state the service signs (a \"checkpoint\"). A party that kept a signed checkpoint can \
         prove that an entry was in the log and that the log was not rewritten since. ",
    )];
    match &a.log {
        Some(l) => {
            check.push(text(format!(
                "This record cites the log as it stood with {} entries; the log's public key is ",
                l.tree_size
            )));
            check.push(code(l.key.clone()));
            check.push(text(
                ". The JSON form of this record carries, for each cited entry, its exact text \
                 and the proof that it is included in the log; `deconflict verify` checks an \
                 exported log offline.",
            ));
        }
        None => check.push(text("This server keeps no log, so nothing here is cited.")),
    }
    out.push(Block::Paragraph(check));
    out
}

fn concern(out: &mut Vec<Block>, c: &Concern, i: &Incident) {
    out.push(Block::Heading(3, c.matched.name().to_owned()));
    let mut about = vec![
        text(format!("A {}, notified by ", describe(&c.matched))),
        strong(party(&c.notified_by)),
        text(format!(
            " on {}; the incident was reported {} after that.",
            when(c.matched.notified()),
            span(i.content.time - c.matched.notified())
        )),
    ];
    if let Some(first) = c.notified_log.first() {
        about.push(text(" Recorded in "));
        about.push(cite(&Some(first.clone())));
        about.push(text("."));
    }
    about.push(text(" Its identifier in the deconfliction system is "));
    about.push(code(c.matched.id().to_owned()));
    about.push(text("."));
    out.push(Block::Paragraph(about));

    out.push(Block::Heading(
        4,
        "Who was told, and who acknowledged".into(),
    ));
    if c.told.is_empty() {
        out.push(Block::Paragraph(vec![text(
            "No party was notified of it: no armed party's plans crossed it in this service.",
        )]));
    } else {
        let rows = c
            .told
            .iter()
            .map(|t| {
                let ack = match &t.acknowledged {
                    Some(a) => vec![
                        text(format!(
                            "{}, {} after being told{}",
                            when(a.time),
                            span(a.time - t.sent),
                            if a.signed {
                                "; signed with the party's own key"
                            } else {
                                ""
                            }
                        )),
                        text(" ("),
                        cite(&a.log),
                        text(")"),
                    ],
                    None => vec![strong("Not acknowledged")],
                };
                vec![
                    vec![text(party(&t.party))],
                    vec![text(when(t.sent)), text(" ("), cite(&t.log), text(")")],
                    ack,
                ]
            })
            .collect();
        out.push(Block::Table {
            head: vec!["Party", "Told on", "Acknowledged"],
            rows,
        });
    }

    out.push(Block::Heading(
        4,
        "Plans made with it in view (proof of awareness)".into(),
    ));
    if c.planned_with.is_empty() {
        out.push(Block::Paragraph(vec![text(
            "No write to the deconfliction system recorded in the log carried this site's \
             or movement's version number in its key.",
        )]));
    } else {
        out.push(Block::Paragraph(vec![text(
            "To plan an operation over it, a party had to show the site's or movement's \
             current version number (OVN), which it can only learn by reading its details. \
             These writes carried it:",
        )]));
        let rows = c
            .planned_with
            .iter()
            .map(|w| {
                vec![
                    vec![text(party(&w.party))],
                    vec![
                        text(format!("{} ", w.entity_type.replace('_', " "))),
                        code(w.entity.clone()),
                    ],
                    // The log's RFC 3339 time, read like the report's other times.
                    vec![text(
                        DateTime::parse_from_rfc3339(&w.time)
                            .map(|t| when(t.with_timezone(&Utc)))
                            .unwrap_or_else(|_| w.time.clone()),
                    )],
                    vec![cite(&Some(w.log.clone()))],
                ]
            })
            .collect();
        out.push(Block::Table {
            head: vec!["Party", "What it wrote", "When", "Recorded in"],
            rows,
        });
    }
}

/// Escapes what Markdown would otherwise interpret inside a line (emphasis, links, code, HTML,
/// table cells); line breaks become spaces. `(`, `!` and `#` need no escape once `[` has one
/// and no line starts with the text ([`md_line`] handles lines that do).
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// [`md_escape`] for text that starts a line, where `#`, `-`, `+`, `=` and `1.` begin blocks.
fn md_line(s: &str) -> String {
    let escaped = md_escape(s);
    let digits = escaped.chars().take_while(char::is_ascii_digit).count();
    let after_digits = escaped[digits..].chars().next();
    if matches!(escaped.chars().next(), Some('#' | '-' | '+' | '=')) {
        format!("\\{escaped}")
    } else if digits > 0 && matches!(after_digits, Some('.' | ')')) {
        format!("{}\\{}", &escaped[..digits], &escaped[digits..])
    } else {
        escaped
    }
}

/// Inline code that no backtick inside can close.
fn md_code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let run = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(run + 1);
    format!("{fence} {clean} {fence}")
}

fn md_inline(parts: &[Inline]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => md_escape(t),
            // CommonMark closes `**` only after a non-space: trailing spaces go outside.
            Inline::Strong(t) => {
                let word = t.trim_end();
                format!("**{}**{}", md_escape(word), &t[word.len()..])
            }
            Inline::Code(t) => md_code(t),
        })
        .collect()
}

/// The record as Markdown.
pub fn markdown(a: &Accountability) -> String {
    let mut out = String::new();
    for b in outline(a) {
        match b {
            Block::Heading(level, t) => out.push_str(&format!(
                "{} {}\n\n",
                "#".repeat(level.into()),
                md_escape(&t)
            )),
            Block::Paragraph(p) => out.push_str(&format!("{}\n\n", md_inline(&p))),
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {}\n", md_inline(&item)));
                }
                out.push('\n');
            }
            Block::Quote(t) => {
                for line in t.lines() {
                    out.push_str(&format!("> {}\n", md_line(line)));
                }
                out.push('\n');
            }
            Block::Table { head, rows } => {
                out.push_str(&format!("| {} |\n", head.join(" | ")));
                out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| md_inline(c)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    html_escape::encode_safe(s).into_owned()
}

fn html_inline(parts: &[Inline]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => esc(t),
            Inline::Strong(t) => format!("<strong>{}</strong>", esc(t)),
            Inline::Code(t) => format!("<code>{}</code>", esc(t)),
        })
        .collect()
}

const STYLE: &str = "body{font-family:Georgia,serif;max-width:50em;margin:2em auto;padding:0 1em;\
line-height:1.5;color:#222}table{border-collapse:collapse;width:100%;margin:1em 0}\
th,td{border:1px solid #bbb;padding:.4em .6em;text-align:left;vertical-align:top}\
th{background:#eee}blockquote{border-left:4px solid #bbb;margin:1em 0;padding:.2em 1em;\
white-space:pre-wrap}code{font-size:.85em;word-break:break-all}";

/// The record as a standalone HTML page.
pub fn html(a: &Accountability) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Accountability record of incident {}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n",
        esc(&a.incident.id)
    );
    for b in outline(a) {
        match b {
            Block::Heading(level, t) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", esc(&t)));
            }
            Block::Paragraph(p) => out.push_str(&format!("<p>{}</p>\n", html_inline(&p))),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", html_inline(&item)));
                }
                out.push_str("</ul>\n");
            }
            Block::Quote(t) => out.push_str(&format!("<blockquote>{}</blockquote>\n", esc(&t))),
            Block::Table { head, rows } => {
                out.push_str("<table>\n<tr>");
                for h in head {
                    out.push_str(&format!("<th>{}</th>", esc(h)));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        out.push_str(&format!("<td>{}</td>", html_inline(&cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Category, Confidence, IncidentContent};
    use crate::site::{self, Site, SiteContent};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn citation(index: u64) -> Citation {
        Citation {
            index,
            tree_size: 40,
            record: "{}".into(),
            proof: vec!["AAAA".into()],
        }
    }

    fn record() -> Accountability {
        let site = Site {
            id: "a3a0c0de-0000-4000-8000-000000000001".into(),
            party: "cell".into(),
            content: SiteContent {
                external_id: "H-1".into(),
                name: "Field <b>hospital</b> & *clinic*".into(),
                category: site::Category::Hospital,
                geometry: serde_json::from_str(r#"{"type":"Point","coordinates":[37.15,36.2]}"#)
                    .unwrap(),
                radius_m: Some(100.0),
                valid_from: None,
                valid_until: None,
            },
            notified: t("2026-11-27T20:00:00Z"),
            updated: t("2026-11-27T20:00:00Z"),
        };
        let alpha = PartyRef {
            id: "alpha".into(),
            name: "Alpha <script>alert(1)</script>".into(),
            role: Some("armed".into()),
        };
        Accountability {
            incident: Incident {
                id: "i-1".into(),
                reporter: "monitor".into(),
                reported: t("2026-11-27T21:10:00Z"),
                content: IncidentContent {
                    time: t("2026-11-27T21:04:00Z"),
                    location: serde_json::from_str(
                        r#"{"type":"Point","coordinates":[37.15,36.2]}"#,
                    )
                    .unwrap(),
                    radius_m: Some(50.0),
                    category: Category::Airstrike,
                    source: "staff [link](javascript:alert(1))".into(),
                    confidence: Confidence::Confirmed,
                    description: "Two explosions.\n<img src=x onerror=alert(1)>".into(),
                },
                matches: vec![Matched::Site(site.clone())],
            },
            reporter: PartyRef {
                id: "monitor".into(),
                name: "Monitor".into(),
                role: Some("observer".into()),
            },
            generated: t("2026-11-27T22:00:00Z"),
            server: "https://dss.example".into(),
            log: Some(LogHead {
                key: "deconflict/log+1234+AAAA".into(),
                tree_size: 40,
                checkpoint: None,
            }),
            concerns: vec![Concern {
                matched: Matched::Site(site),
                notified_by: PartyRef {
                    id: "cell".into(),
                    name: "Medical NGO".into(),
                    role: Some("humanitarian".into()),
                },
                notified_log: vec![citation(3)],
                ovns: vec!["ovn-1".into()],
                told: vec![
                    Told {
                        notification: "n-1".into(),
                        party: alpha.clone(),
                        sent: t("2026-11-27T20:30:00Z"),
                        log: Some(citation(5)),
                        acknowledged: Some(Acknowledged {
                            time: t("2026-11-27T20:34:10Z"),
                            signed: true,
                            log: Some(citation(7)),
                        }),
                    },
                    Told {
                        notification: "n-2".into(),
                        party: PartyRef {
                            id: "bravo".into(),
                            name: String::new(),
                            role: Some("armed".into()),
                        },
                        sent: t("2026-11-27T20:31:00Z"),
                        log: Some(citation(6)),
                        acknowledged: None,
                    },
                ],
                planned_with: vec![PlannedWith {
                    party: alpha,
                    entity_type: "operational_intent".into(),
                    entity: "7a1c".into(),
                    time: "2026-11-27T20:40:00Z".into(),
                    ovn: "ovn-1".into(),
                    log: citation(9),
                }],
            }],
        }
    }

    #[test]
    fn the_record_names_every_fact_and_its_log_entry() {
        let md = markdown(&record());
        for needle in [
            "27 November 2026, 21:04:00 UTC",
            "airstrike (confidence: confirmed)",
            "Field \\<b\\>hospital\\</b\\> \\& \\*clinic\\*",
            "cell (Medical NGO, humanitarian)",
            "log entry #3",
            "27 November 2026, 20:34:10 UTC, 4 min 10 s after being told; signed with the party's own key",
            "log entry #7",
            "bravo (armed)",
            "**Not acknowledged**",
            "- **When:** 27 November 2026",
            "operational intent ` 7a1c ` | 27 November 2026, 20:40:00 UTC |",
            "log entry #9",
            "with 40 entries",
        ] {
            assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
        }
    }

    #[test]
    fn html_escapes_everything_from_outside() {
        let h = html(&record());
        assert!(!h.contains("<script>"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("<b>"), "{h}");
        assert!(
            h.contains("Alpha &lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
            "{h}"
        );
        assert!(
            h.contains("<td><strong>Not acknowledged</strong></td>"),
            "{h}"
        );
        // The only tags are the page's own.
        let tags: std::collections::BTreeSet<&str> = h
            .split('<')
            .skip(1)
            .map(|s| s.split(['>', ' ']).next().unwrap_or(""))
            .collect();
        let allowed = [
            "!DOCTYPE",
            "html",
            "/html",
            "head",
            "/head",
            "meta",
            "title",
            "/title",
            "style",
            "/style",
            "body",
            "/body",
            "h1",
            "/h1",
            "h2",
            "/h2",
            "h3",
            "/h3",
            "h4",
            "/h4",
            "p",
            "/p",
            "ul",
            "/ul",
            "li",
            "/li",
            "strong",
            "/strong",
            "code",
            "/code",
            "blockquote",
            "/blockquote",
            "table",
            "/table",
            "tr",
            "/tr",
            "th",
            "/th",
            "td",
            "/td",
        ];
        for tag in tags {
            assert!(allowed.contains(&tag), "unexpected tag {tag:?}");
        }
    }

    #[test]
    fn markdown_cannot_be_made_to_link_or_embed() {
        let md = markdown(&record());
        assert!(!md.contains("[link](javascript"), "{md}");
        assert!(md.contains("\\[link\\](javascript:alert(1))"), "{md}");
        assert!(md.contains("> \\<img src=x onerror=alert(1)\\>"), "{md}");
        assert_eq!(md_line("# not a heading"), "\\# not a heading");
        assert_eq!(md_line("12. not a list"), "12\\. not a list");
        assert_eq!(md_line("12 apples"), "12 apples");
        assert_eq!(md_code("a`b"), "`` a`b ``");
    }

    #[test]
    fn the_json_form_round_trips() {
        let r = record();
        let back: Accountability =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            span(chrono::Duration::seconds(3 * 3600 + 60 * 12 + 5)),
            "3 h 12 min"
        );
    }
}
