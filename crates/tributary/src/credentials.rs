//! The credentials `--auth verify` accepts: `test`/`test` (the convention of local AWS
//! tools) and the profiles of an AWS shared credentials file given with `--credentials`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tributary_gateway::{Credentials, Principal, SessionKey};

/// Access key → secret and account.
pub struct Known(HashMap<String, Principal>);

impl Known {
    pub fn load(file: Option<&Path>, account_id: &str) -> Result<Known> {
        let mut keys = HashMap::new();
        keys.insert(
            "test".to_owned(),
            Principal {
                secret: "test".into(),
                account_id: account_id.to_owned(),
                ..Principal::default()
            },
        );
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading credentials from {}", path.display()))?;
            for p in parse(&text, account_id)
                .with_context(|| format!("in credentials file {}", path.display()))?
            {
                keys.insert(p.0, p.1);
            }
        }
        Ok(Known(keys))
    }
}

impl Credentials for Known {
    fn lookup(&self, access_key: &str) -> Option<Principal> {
        self.0.get(access_key).cloned()
    }
}

/// The profiles of an INI credentials file, each with a key and a secret.
fn parse(text: &str, default_account: &str) -> Result<Vec<(String, Principal)>> {
    struct Profile {
        name: String,
        key: Option<String>,
        secret: Option<String>,
        account: Option<String>,
    }
    let mut profiles: Vec<Profile> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push(Profile {
                name: name.trim().to_owned(),
                key: None,
                secret: None,
                account: None,
            });
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            bail!("line {}: expected `name = value`", n + 1);
        };
        let Some(p) = profiles.last_mut() else {
            bail!("line {}: a setting before any [profile]", n + 1);
        };
        let v = v.trim().to_owned();
        match k.trim() {
            "aws_access_key_id" => p.key = Some(v),
            "aws_secret_access_key" => p.secret = Some(v),
            "account_id" | "aws_account_id" => p.account = Some(v),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for p in profiles {
        match (p.key, p.secret) {
            (Some(key), Some(secret)) => out.push((
                key,
                Principal {
                    secret,
                    account_id: p.account.unwrap_or_else(|| default_account.to_owned()),
                    ..Principal::default()
                },
            )),
            (None, None) => {}
            _ => bail!(
                "profile [{}] needs both aws_access_key_id and aws_secret_access_key",
                p.name
            ),
        }
    }
    Ok(out)
}

/// Everyone the gateway may know a key of: the `--credentials` file and `test`/`test` first,
/// then the keys IAM created and the sessions STS handed out (read from the store snapshot, so
/// a new key works at once). An `Inactive` IAM key is not known.
pub struct Chain {
    pub known: Known,
    pub keys: tributary_sts::Keys,
}

impl Credentials for Chain {
    fn lookup(&self, access_key: &str) -> Option<Principal> {
        if let Some(p) = self.known.lookup(access_key) {
            return Some(p);
        }
        let k = self.keys.lookup(access_key).filter(|k| k.active)?;
        Some(Principal {
            secret: k.secret,
            account_id: k.account,
            arn: Some(k.principal.arn),
            session: k.session.map(|s| SessionKey {
                token: s.session_token,
                expires_at_ms: s.expires_at_ms,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profiles() {
        let text = "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n\
                    # a comment\n[other]\naws_access_key_id=AKIA2\naws_secret_access_key=s2\naccount_id=111122223333\n\
                    [empty]\nregion = us-east-1\n";
        let p = parse(text, "000000000000").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, "AKIA1");
        assert_eq!(p[0].1.account_id, "000000000000");
        assert_eq!(p[1].1.account_id, "111122223333");
        assert!(parse("[x]\naws_access_key_id=A\n", "0").is_err());
        assert!(parse("aws_access_key_id=A\n", "0").is_err());
    }
}
