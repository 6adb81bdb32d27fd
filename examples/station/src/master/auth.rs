//! Operators of the API: roles, keys and how keys are stored.
//!
//! * A key is `amk_` followed by 64 hex digits: 256 bits from the operating system's random
//!   source (`getrandom`). It is shown once, when it is made, and never stored or logged.
//! * What is stored is a [`KeyHash`]: a random 128-bit salt per key and the HMAC-SHA-256 of
//!   the key under that salt, written `hmac-sha256:<salt hex>:<mac hex>` (the site file's
//!   `key_hash`, the `operators` table). A presented key is checked against every operator's
//!   hash with a constant-time comparison (`subtle`).
//! * [`Role`]s: `cashier` (payments, tokens), `operator` (guard, meter replacement, jobs,
//!   commands), `auditor` (reads everything, the audit trail included), `admin` (manages
//!   operators, and may do what every other role may). Reads need any role.

use std::fmt;
use std::sync::RwLock;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The prefix of every key.
pub const KEY_PREFIX: &str = "amk_";

/// Length of a key: the prefix and 64 hex digits.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 64;

/// The longest operator name.
pub const MAX_NAME_LEN: usize = 64;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes payments and sells tokens.
    Cashier,
    /// Guard, meter replacement, jobs and commands.
    Operator,
    /// Reads everything, the audit trail included; changes nothing.
    Auditor,
    /// Manages operators; may do what every other role may.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Cashier, Role::Operator, Role::Auditor, Role::Admin];

    /// The role's name as written in the site file and the API.
    pub fn name(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// True when an operator with this role may do what `required` may.
    pub fn permits(self, required: Role) -> bool {
        self == required || self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (cashier, operator, auditor or admin)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(MAX_NAME_LEN).collect()))
    }
}

/// Why a key, a key hash or an operator was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The operating system's random source failed.
    #[error("no random numbers: {0}")]
    Random(String),
    /// A `key_hash` that is not `hmac-sha256:<32 hex>:<64 hex>` (the text is not repeated).
    #[error("key_hash is not hmac-sha256:<salt, 32 hex digits>:<mac, 64 hex digits>")]
    BadHash,
    /// An operator name that is empty, too long or has characters other than letters, digits,
    /// `_`, `-`, `.` and `@`.
    #[error("operator name must be 1–{MAX_NAME_LEN} letters, digits, '_', '-', '.' or '@'")]
    BadName,
    /// A second operator with the same name.
    #[error("operator {0:?} exists already")]
    Duplicate(String),
}

/// An API key in clear: shown once when made, wiped from memory when dropped, never printed by
/// `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// A new key: `amk_` and 256 random bits as hex.
    ///
    /// # Errors
    /// [`AuthError::Random`] when the random source fails.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bits = Zeroizing::new([0u8; 32]);
        getrandom::fill(bits.as_mut()).map_err(|e| AuthError::Random(e.to_string()))?;
        let mut s = String::with_capacity(KEY_LEN);
        s.push_str(KEY_PREFIX);
        s.push_str(&hex::encode(bits.as_ref()));
        Ok(Self(Zeroizing::new(s)))
    }

    /// The key's text (to show it once, or to send it as `Authorization: Bearer …`).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// True when `key` has the shape of a key (`amk_` and 64 lower-case hex digits); anything
/// else is refused before any hashing.
pub fn well_formed(key: &str) -> bool {
    key.len() == KEY_LEN
        && key.starts_with(KEY_PREFIX)
        && key
            .bytes()
            .skip(KEY_PREFIX.len())
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The stored form of a key: a per-key random salt and HMAC-SHA-256(salt, key).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash {
    salt: [u8; 16],
    mac: [u8; 32],
}

impl KeyHash {
    /// Hashes `key` under a new random salt.
    ///
    /// # Errors
    /// [`AuthError::Random`] when the random source fails.
    pub fn new(key: &ApiKey) -> Result<Self, AuthError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| AuthError::Random(e.to_string()))?;
        Ok(Self {
            salt,
            mac: mac(&salt, key.expose().as_bytes()),
        })
    }

    /// True when `presented` is the key this hash was made from (constant time in the
    /// comparison).
    pub fn verify(&self, presented: &str) -> bool {
        let m = mac(&self.salt, presented.as_bytes());
        bool::from(m.ct_eq(&self.mac))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hmac-sha256:{}:{}",
            hex::encode(self.salt),
            hex::encode(self.mac)
        )
    }
}

impl std::str::FromStr for KeyHash {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        let mut parts = s.trim().split(':');
        let (Some("hmac-sha256"), Some(salt), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::BadHash);
        };
        Ok(Self {
            salt: unhex(salt).ok_or(AuthError::BadHash)?,
            mac: unhex(mac).ok_or(AuthError::BadHash)?,
        })
    }
}

fn mac(salt: &[u8], key: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(salt) {
        Ok(mut h) => {
            h.update(key);
            h.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Checks an operator name: 1–[`MAX_NAME_LEN`] letters, digits, `_`, `-`, `.` or `@`, and not
/// `system` (the name the station itself signs with, e.g. on a job it cancels as moot).
///
/// # Errors
/// [`AuthError::BadName`].
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name != "system"
        && name.chars().count() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok { Ok(()) } else { Err(AuthError::BadName) }
}

/// Where an operator comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The site file's `[[operators]]` or `--operator` on the command line (cannot be revoked
    /// over the API: change the configuration).
    Configured,
    /// Made over the API (the `operators` table; row id).
    Api(i64),
    /// The bootstrap admin of a master started without operators (this run only).
    Bootstrap,
}

/// An operator: name, role and the hash of their key.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Unique name (who, in the audit trail).
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their key, hashed.
    pub hash: KeyHash,
    /// Where they come from.
    pub source: Source,
}

/// Who made a request: an authenticated operator's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The operator's name.
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// The operators a running master knows.
#[derive(Debug, Default)]
pub struct Operators {
    list: RwLock<Vec<Operator>>,
}

impl Operators {
    /// A registry holding `list`.
    ///
    /// # Errors
    /// [`AuthError::Duplicate`] for a name given twice, [`AuthError::BadName`].
    pub fn new(list: Vec<Operator>) -> Result<Self, AuthError> {
        let ops = Self::default();
        for o in list {
            ops.add(o)?;
        }
        Ok(ops)
    }

    /// Adds an operator.
    ///
    /// # Errors
    /// [`AuthError::Duplicate`], [`AuthError::BadName`].
    pub fn add(&self, op: Operator) -> Result<(), AuthError> {
        check_name(&op.name)?;
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        if list.iter().any(|o| o.name == op.name) {
            return Err(AuthError::Duplicate(op.name));
        }
        list.push(op);
        Ok(())
    }

    /// True when an operator of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.read().iter().any(|o| o.name == name)
    }

    /// Removes the operator `name`; their key stops authenticating at once.
    pub fn remove(&self, name: &str) -> Option<Operator> {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let i = list.iter().position(|o| o.name == name)?;
        Some(list.remove(i))
    }

    /// The operator `name`.
    pub fn get(&self, name: &str) -> Option<Operator> {
        self.read().iter().find(|o| o.name == name).cloned()
    }

    /// Every operator (name, role, source), without their hashes.
    pub fn list(&self) -> Vec<(String, Role, Source)> {
        self.read()
            .iter()
            .map(|o| (o.name.clone(), o.role, o.source))
            .collect()
    }

    /// How many operators there are.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The operator whose key `presented` is, if any. Malformed keys are refused without
    /// hashing; a well-formed key is compared with every operator's hash.
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        if !well_formed(presented) {
            return None;
        }
        let mut found = None;
        for o in self.read().iter() {
            // No early exit: the time taken does not tell which operator matched.
            if o.hash.verify(presented) && found.is_none() {
                found = Some(Principal {
                    name: o.name.clone(),
                    role: o.role,
                });
            }
        }
        found
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Operator>> {
        self.list.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// An operator as the site file names one (`[[operators]] name, role, key_hash`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteOperator {
    /// Unique name.
    pub name: String,
    /// `cashier`, `operator`, `auditor` or `admin`.
    pub role: Role,
    /// `hmac-sha256:<salt>:<mac>` as printed by `master --hash-key`.
    pub key_hash: String,
}

impl fmt::Debug for SiteOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteOperator")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl SiteOperator {
    /// The operator it configures.
    ///
    /// # Errors
    /// [`AuthError::BadHash`], [`AuthError::BadName`].
    pub fn to_operator(&self) -> Result<Operator, AuthError> {
        check_name(&self.name)?;
        Ok(Operator {
            name: self.name.clone(),
            role: self.role,
            hash: self.key_hash.parse()?,
            source: Source::Configured,
        })
    }
}

/// A new operator with a new key: the operator to register and the key to show once.
///
/// # Errors
/// [`AuthError::Random`], [`AuthError::BadName`].
pub fn new_operator(
    name: &str,
    role: Role,
    source: Source,
) -> Result<(Operator, ApiKey), AuthError> {
    check_name(name)?;
    let key = ApiKey::generate()?;
    let hash = KeyHash::new(&key)?;
    Ok((
        Operator {
            name: name.to_string(),
            role,
            hash,
            source,
        },
        key,
    ))
}

/// Wipes a string's bytes (for key text read from a header or a command line).
pub fn wipe(mut s: String) {
    s.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_well_formed_and_verify_only_themselves() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(a.expose()));
        assert_eq!(format!("{a:?}"), "ApiKey(..)");
        let h = KeyHash::new(&a).unwrap();
        assert!(h.verify(a.expose()));
        assert!(!h.verify(b.expose()));
        // Same key, another salt: another hash, both verify.
        let h2 = KeyHash::new(&a).unwrap();
        assert_ne!(h.to_string(), h2.to_string());
        assert!(h2.verify(a.expose()));
        // The stored text round-trips and holds no key material.
        let text = h.to_string();
        assert!(!text.contains(&a.expose()[KEY_PREFIX.len()..]));
        let back: KeyHash = text.parse().unwrap();
        assert!(back.verify(a.expose()));
        assert_eq!(format!("{back:?}"), "KeyHash(..)");
        assert!("hmac-sha256:00:11".parse::<KeyHash>().is_err());
        assert!("sha1:00:11:22".parse::<KeyHash>().is_err());
    }

    #[test]
    fn registry_authenticates_by_key_and_roles_nest_only_under_admin() {
        let (cashier, ck) = new_operator("till-1", Role::Cashier, Source::Configured).unwrap();
        let (admin, ak) = new_operator("root", Role::Admin, Source::Bootstrap).unwrap();
        let ops = Operators::new(vec![cashier, admin]).unwrap();
        assert_eq!(
            ops.authenticate(ck.expose()).map(|p| p.role),
            Some(Role::Cashier)
        );
        assert_eq!(
            ops.authenticate(ak.expose()).map(|p| p.name),
            Some("root".into())
        );
        assert_eq!(ops.authenticate("amk_00"), None);
        assert_eq!(ops.authenticate(""), None);
        assert!(Role::Admin.permits(Role::Cashier));
        assert!(!Role::Auditor.permits(Role::Cashier));
        assert!(!Role::Cashier.permits(Role::Operator));
        let (dup, _) = new_operator("root", Role::Auditor, Source::Api(1)).unwrap();
        assert!(matches!(ops.add(dup), Err(AuthError::Duplicate(_))));
        assert!(ops.remove("till-1").is_some());
        assert_eq!(ops.authenticate(ck.expose()), None);
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name("a b").is_err());
        assert!("superuser".parse::<Role>().is_err());
    }
}
