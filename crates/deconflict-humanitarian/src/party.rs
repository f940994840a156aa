//! Parties and roles. A party is the JWT `sub` of its tokens; its role says what it may do:
//! armed parties write operations (and their own constraints and subscriptions) on the DSS,
//! humanitarian parties notify sites and movements, coordinators manage the registry and see
//! the whole layer, observers only read.

use std::collections::HashMap;

use deconflict_core::DssError;
use serde::{Deserialize, Serialize};

/// The document kind of parties registered through the API.
pub const KIND: &str = "party";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Armed,
    Humanitarian,
    Coordinator,
    Observer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Armed,
        Role::Humanitarian,
        Role::Coordinator,
        Role::Observer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Armed => "armed",
            Role::Humanitarian => "humanitarian",
            Role::Coordinator => "coordinator",
            Role::Observer => "observer",
        }
    }

    /// Whether a party with this role may do `action`.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        use Role::*;
        match action {
            ManageParties | ReadAllNotifications => self == Coordinator,
            ReadLayer | ReportIncidents => true,
            NotifySites | NotifyMovements => self == Humanitarian,
            DssOperations | DssConstraints => self == Armed,
            DssSubscriptions | DssOther => matches!(self, Armed | Humanitarian),
        }
    }
}

/// What a request asks to do, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Add, change or remove parties.
    ManageParties,
    /// Read parties, sites, movements and their DSS details, and its own notifications.
    ReadLayer,
    /// Read the notifications of other parties.
    ReadAllNotifications,
    /// Report an incident: anyone with a role.
    ReportIncidents,
    /// Create, change or withdraw its own protected sites.
    NotifySites,
    /// Create, change or withdraw its own movements.
    NotifyMovements,
    /// Write operational intents on the DSS.
    DssOperations,
    /// Write constraints on the DSS directly.
    DssConstraints,
    /// Write subscriptions on the DSS.
    DssSubscriptions,
    /// Other DSS writes: reports, USS availability.
    DssOther,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::ManageParties => "manage parties",
            Action::ReadLayer => "read the humanitarian layer",
            Action::ReadAllNotifications => "read other parties' notifications",
            Action::ReportIncidents => "report incidents",
            Action::NotifySites => "notify protected sites",
            Action::NotifyMovements => "notify movements",
            Action::DssOperations => "write operational intents (operations)",
            Action::DssConstraints => "write constraints on the DSS",
            Action::DssSubscriptions => "write subscriptions",
            Action::DssOther => "write to the DSS",
        }
    }
}

/// A party of the deconfliction line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The JWT `sub` of its tokens.
    pub id: String,
    pub role: Role,
    /// A readable name.
    #[serde(default)]
    pub name: String,
    /// How to reach its liaison cell (free text: a phone number, an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Where its notifications are also posted, signed with the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Its Ed25519 public key (the 32 bytes in standard base64), with which it may sign its
    /// acknowledgments so that the log proves the party itself made them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// A party's webhook: each notification is POSTed to `url`, signed with an HMAC-SHA256 keyed
/// by `secret` (never shown by the API).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("secret", &"(hidden)")
            .finish()
    }
}

/// The shortest webhook secret accepted, in characters.
pub const MIN_SECRET_CHARS: usize = 16;

impl Webhook {
    /// Checks the URL (http or https, no spaces) and the secret (16 to 256 printable
    /// characters), naming the field.
    pub fn validate(&self) -> Result<(), DssError> {
        let u = &self.url;
        let scheme = u.starts_with("https://") || u.starts_with("http://");
        if !scheme || u.len() > 2048 || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DssError::bad(
                "webhook.url",
                "must be an http(s) URL without spaces, at most 2048 characters",
            ));
        }
        let n = self.secret.chars().count();
        if !(MIN_SECRET_CHARS..=256).contains(&n) || self.secret.chars().any(char::is_control) {
            return Err(DssError::bad(
                "webhook.secret",
                format!("must be {MIN_SECRET_CHARS} to 256 characters, no control characters"),
            ));
        }
        Ok(())
    }
}

impl Party {
    /// Checks the fields, naming the first one that breaks a rule.
    pub fn validate(&self) -> Result<(), DssError> {
        if self.id.is_empty()
            || self.id.len() > 256
            || self.id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(DssError::bad(
                "id",
                "a party id (the JWT sub) is 1 to 256 characters without spaces",
            ));
        }
        if self.name.chars().count() > 200 || self.name.chars().any(char::is_control) {
            return Err(DssError::bad(
                "name",
                "at most 200 characters, no control characters",
            ));
        }
        if let Some(c) = &self.contact {
            crate::text("contact", c, 500)?;
        }
        if let Some(w) = &self.webhook {
            w.validate()?;
        }
        self.key()?;
        Ok(())
    }

    /// Its public key, if it registered one.
    pub fn key(&self) -> Result<Option<deconflict_tlog::PartyKey>, DssError> {
        self.public_key
            .as_deref()
            .map(|k| {
                deconflict_tlog::PartyKey::from_base64(&self.id, k).map_err(|e| {
                    DssError::bad(
                        "public_key",
                        format!("not an Ed25519 public key in standard base64 ({e})"),
                    )
                })
            })
            .transpose()
    }
}

/// The parties known to a server: those of its configuration file, which the API cannot
/// change, and those registered through the API.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    configured: HashMap<String, Party>,
    registered: HashMap<String, Party>,
}

impl Registry {
    /// A registry of the configured parties; ids must be unique and valid.
    pub fn new(configured: Vec<Party>) -> Result<Self, DssError> {
        let mut by_id = HashMap::new();
        for (i, p) in configured.into_iter().enumerate() {
            p.validate().map_err(|e| match e {
                DssError::BadRequest { field, rule } => {
                    DssError::bad(format!("party[{i}].{field}"), rule)
                }
                other => other,
            })?;
            if by_id.contains_key(&p.id) {
                return Err(DssError::bad(
                    format!("party[{i}].id"),
                    format!("party {} is listed twice", p.id),
                ));
            }
            by_id.insert(p.id.clone(), p);
        }
        Ok(Self {
            configured: by_id,
            registered: HashMap::new(),
        })
    }

    /// Replaces the parties registered through the API (as read from the store).
    pub fn set_registered(&mut self, parties: Vec<Party>) {
        self.registered = parties.into_iter().map(|p| (p.id.clone(), p)).collect();
    }

    pub fn get(&self, id: &str) -> Option<&Party> {
        self.configured.get(id).or_else(|| self.registered.get(id))
    }

    /// Whether no party is known at all (a plain DSS).
    pub fn is_empty(&self) -> bool {
        self.configured.is_empty() && self.registered.is_empty()
    }

    pub fn is_configured(&self, id: &str) -> bool {
        self.configured.contains_key(id)
    }

    /// Every party, by id.
    pub fn all(&self) -> Vec<Party> {
        let mut all: Vec<Party> = self
            .registered
            .values()
            .filter(|p| !self.configured.contains_key(&p.id))
            .chain(self.configured.values())
            .cloned()
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The party `sub` if it may do `action`; 403 naming why otherwise.
    pub fn authorize(&self, sub: &str, action: Action) -> Result<Party, DssError> {
        authorize(sub, self.get(sub), action).cloned()
    }
}

/// `party` (the registered party of `sub`, if any) if it may do `action`; 403 naming why
/// otherwise.
pub fn authorize<'a>(
    sub: &str,
    party: Option<&'a Party>,
    action: Action,
) -> Result<&'a Party, DssError> {
    let p = party.ok_or_else(|| {
        DssError::Forbidden(format!(
            "party \"{sub}\" (the token's sub) is not registered; a coordinator must add it \
             under /v1/parties before it may {}",
            action.describe()
        ))
    })?;
    if !p.role.may(action) {
        return Err(DssError::Forbidden(format!(
            "party \"{}\" has the role {}, which may not {}",
            p.id,
            p.role.as_str(),
            action.describe()
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(id: &str, role: Role) -> Party {
        Party {
            id: id.into(),
            role,
            name: String::new(),
            contact: None,
            webhook: None,
            public_key: None,
        }
    }

    #[test]
    fn each_role_acts_only_within_it() {
        use Action::*;
        let table = [
            (
                Role::Armed,
                vec![
                    ReadLayer,
                    ReportIncidents,
                    DssOperations,
                    DssConstraints,
                    DssSubscriptions,
                    DssOther,
                ],
            ),
            (
                Role::Humanitarian,
                vec![
                    ReadLayer,
                    ReportIncidents,
                    NotifySites,
                    NotifyMovements,
                    DssSubscriptions,
                    DssOther,
                ],
            ),
            (
                Role::Coordinator,
                vec![
                    ReadLayer,
                    ReportIncidents,
                    ManageParties,
                    ReadAllNotifications,
                ],
            ),
            (Role::Observer, vec![ReadLayer, ReportIncidents]),
        ];
        let all = [
            ManageParties,
            ReadLayer,
            ReadAllNotifications,
            ReportIncidents,
            NotifySites,
            NotifyMovements,
            DssOperations,
            DssConstraints,
            DssSubscriptions,
            DssOther,
        ];
        for (role, allowed) in table {
            for a in all {
                assert_eq!(role.may(a), allowed.contains(&a), "{role:?} {a:?}");
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let r = Registry::new(vec![party("ngo", Role::Humanitarian)]).unwrap();
        let e = r
            .authorize("ghost", Action::ReadLayer)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"ghost\"") && e.contains("not registered"),
            "{e}"
        );
        let e = r
            .authorize("ngo", Action::DssOperations)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("humanitarian") && e.contains("operational intents"),
            "{e}"
        );
        assert!(r.authorize("ngo", Action::NotifySites).is_ok());
    }

    #[test]
    fn configured_parties_win_and_duplicates_are_refused() {
        let mut r = Registry::new(vec![party("a", Role::Armed)]).unwrap();
        r.set_registered(vec![party("a", Role::Observer), party("b", Role::Observer)]);
        assert_eq!(r.get("a").map(|p| p.role), Some(Role::Armed));
        assert_eq!(r.all().len(), 2);
        assert!(r.is_configured("a") && !r.is_configured("b"));
        let e = Registry::new(vec![party("a", Role::Armed), party("a", Role::Observer)])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("party[1].id"), "{e}");
        let e = Registry::new(vec![party("a b", Role::Armed)])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("party[0].id"), "{e}");
    }

    #[test]
    fn webhooks_are_checked_and_their_secret_never_printed() {
        let mut p = party("ngo", Role::Humanitarian);
        p.webhook = Some(Webhook {
            url: "https://ngo.example/hook".into(),
            secret: "0123456789abcdef".into(),
        });
        assert!(p.validate().is_ok());
        assert!(!format!("{p:?}").contains("0123456789abcdef"));
        let bad = |url: &str, secret: &str| {
            let mut q = p.clone();
            q.webhook = Some(Webhook {
                url: url.into(),
                secret: secret.into(),
            });
            q.validate().unwrap_err().to_string()
        };
        assert!(bad("ftp://x", "0123456789abcdef").starts_with("webhook.url:"));
        assert!(bad("https://a b", "0123456789abcdef").starts_with("webhook.url:"));
        assert!(bad("https://x", "short").starts_with("webhook.secret:"));
    }

    #[test]
    fn roles_read_and_write_as_snake_case() {
        let p: Party = serde_json::from_str(r#"{"id":"x","role":"humanitarian"}"#).unwrap();
        assert_eq!(p.role, Role::Humanitarian);
        assert!(serde_json::from_str::<Party>(r#"{"id":"x","role":"general"}"#).is_err());
    }
}
