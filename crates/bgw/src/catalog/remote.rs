//! The server of a postgresql-engine database: its connection string, as the catalog keeps it, and the password
//! that goes with it, from the host's password file.
//!
//! The catalog never holds a password: a connection string is checked when a database is created or altered
//! ([`check_connection`]) and refused if it carries one. Passwords live in `<data_dir>/pgpass`, a file in
//! PostgreSQL's `.pgpass` format (`hostname:port:database:username:password` per line, `*` matching anything in
//! the first four fields, `\:` and `\\` escaping, `#` starting a comment, the first matching line winning),
//! which the operator writes with mode 0600; a file others may read is refused, with libpq's words, rather than
//! used. Nothing here logs a connection's password or puts it in an error.
//!
//! Runs in: backends (catalog commands, the relay of client sessions) and workers (their database connection).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why the server of a database cannot be reached as the catalog describes it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    #[error("invalid connection string: {0}")]
    Syntax(String),
    #[error("a connection string must not contain a password")]
    PasswordInConnection,
    #[error("the connection string names more than one host, which is not supported")]
    SeveralHosts,
    #[error("password file \"{0}\" has group or world access; permissions should be u=rw (0600) or less")]
    PassfileMode(String),
    #[error("could not read password file \"{path}\": {reason}")]
    Passfile { path: String, reason: String },
}

impl RemoteError {
    /// The SQLSTATE a client gets for it.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            RemoteError::Syntax(_) | RemoteError::PasswordInConnection | RemoteError::SeveralHosts => "22023",
            RemoteError::PassfileMode(_) | RemoteError::Passfile { .. } => "28P01",
        }
    }

    /// What to do about it, where there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            RemoteError::PasswordInConnection => Some(
                "Put the password in the host's password file (pgpass in the data directory, mode 0600) instead."
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The host's password file.
pub fn passfile_path(data_dir: &Path) -> PathBuf {
    data_dir.join("pgpass")
}

/// Parses `connection` (libpq keyword/value or URI syntax) and checks that the catalog may keep it: no
/// password, one host.
pub fn check_connection(connection: &str) -> Result<tokio_postgres::Config, RemoteError> {
    let config = tokio_postgres::Config::from_str(connection).map_err(|e| RemoteError::Syntax(e.to_string()))?;
    if config.get_password().is_some() {
        return Err(RemoteError::PasswordInConnection);
    }
    if config.get_hosts().len() > 1 {
        return Err(RemoteError::SeveralHosts);
    }
    Ok(config)
}

/// The server of a postgresql-engine database: `connection` parsed, with libpq's defaults for what it leaves out
/// (host: the default Unix socket directory, port 5432, user: the OS user, dbname: the user) and the password
/// from the password file, if a line matches.
pub fn server_config(data_dir: &Path, connection: &str) -> Result<tokio_postgres::Config, RemoteError> {
    let mut config = check_connection(connection)?;
    if config.get_hosts().is_empty() {
        config.host_path("/var/run/postgresql");
    }
    if config.get_ports().is_empty() {
        config.port(5432);
    }
    if config.get_user().is_none() {
        config.user(crate::sys::user::os_user_name().unwrap_or_else(|| "postgres".into()));
    }
    let user = config.get_user().unwrap_or_default().to_owned();
    if config.get_dbname().is_none() {
        config.dbname(&user);
    }
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(name) => name.clone(),
        // libpq matches a connection over the default Unix socket with the host name `localhost`.
        tokio_postgres::config::Host::Unix(_) => "localhost".to_owned(),
    };
    let port = config.get_ports()[0].to_string();
    let dbname = config.get_dbname().unwrap_or_default().to_owned();
    if let Some(password) = passfile_password(&passfile_path(data_dir), [&host, &port, &dbname, &user])? {
        config.password(password);
    }
    Ok(config)
}

/// The password of the first line of the file at `path` matching `key` (host, port, database, user); None when
/// the file does not exist or no line matches.
fn passfile_password(path: &Path, key: [&str; 4]) -> Result<Option<String>, RemoteError> {
    let shown = || path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RemoteError::Passfile { path: shown(), reason: e.to_string() }),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(RemoteError::PassfileMode(shown()));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| RemoteError::Passfile { path: shown(), reason: e.to_string() })?;
    Ok(text.lines().find_map(|line| matching_password(line, key)))
}

/// The password on `line` if its first four fields match `key`.
fn matching_password(line: &str, key: [&str; 4]) -> Option<String> {
    if line.starts_with('#') {
        return None;
    }
    let fields = split_fields(line);
    let [host, port, db, user, password] = fields.as_slice() else { return None };
    let matches = |field: &String, want: &str| field == "*" || field == want;
    (matches(host, key[0]) && matches(port, key[1]) && matches(db, key[2]) && matches(user, key[3]))
        .then(|| password.clone())
}

/// A line's fields: `:` separates them, `\` makes the next character literal. The password, the fifth field,
/// takes the rest of the line.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_keep_no_password() {
        assert!(check_connection("host=127.0.0.1 port=5433 dbname=app user=bob").is_ok());
        assert!(check_connection("postgresql://bob@127.0.0.1:5433/app").is_ok());
        assert_eq!(check_connection("host=h user=bob password=secret").unwrap_err(), RemoteError::PasswordInConnection);
        assert_eq!(check_connection("postgresql://bob:secret@h/app").unwrap_err(), RemoteError::PasswordInConnection);
        assert!(matches!(check_connection("host=h nonsense"), Err(RemoteError::Syntax(_))));
        assert_eq!(check_connection("host=a,b user=x").unwrap_err(), RemoteError::SeveralHosts);
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        let t = tempfile::tempdir().unwrap();
        let file = passfile_path(t.path());
        std::fs::write(
            &file,
            "# comment\nother:5433:app:bob:wrong\n127.0.0.1:5433:app:bob:s3cr\\:et:x\n*:*:*:bob:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = server_config(t.path(), "host=127.0.0.1 port=5433 dbname=app user=bob").unwrap();
        assert_eq!(config.get_password(), Some(&b"s3cr:et:x"[..]));
        let config = server_config(t.path(), "host=127.0.0.1 port=5433 dbname=other user=bob").unwrap();
        assert_eq!(config.get_password(), Some(&b"fallback"[..]));
        let config = server_config(t.path(), "host=127.0.0.1 port=5433 user=carol").unwrap();
        assert_eq!((config.get_password(), config.get_dbname()), (None, Some("carol")));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = server_config(t.path(), "host=127.0.0.1 user=bob").unwrap_err();
        assert!(matches!(err, RemoteError::PassfileMode(_)));
        assert!(!err.to_string().contains("s3cr"));
    }

    #[test]
    fn defaults_are_libpqs() {
        let t = tempfile::tempdir().unwrap();
        let config = server_config(t.path(), "user=bob").unwrap();
        assert_eq!(config.get_ports(), &[5432]);
        assert_eq!(config.get_dbname(), Some("bob"));
        assert!(matches!(config.get_hosts()[0], tokio_postgres::config::Host::Unix(_)));
    }
}
