//! Catalog commands: `CREATE/ALTER/DROP DATABASE` and `CREATE/ALTER/DROP ROLE` (also spelled `USER`), parsed
//! with the `sqlparser` crate's PostgreSQL dialect. Whole statements are parsed by sqlparser where its grammar
//! has them (roles, `CREATE DATABASE name`, `DROP`); the database options it lacks (`[WITH] ALLOW_CONNECTIONS
//! [=] bool`, `ENGINE [=] sqlite | postgresql`, `CONNECTION [=] 'conninfo'`) are read with its parser's own
//! token-level primitives. Nothing here runs the commands: see
//! `crate::services` for privileges and execution.
//!
//! Runs in: backends.

use sqlparser::ast::{ObjectType, Password, RoleOption, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A catalog command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogCommand {
    CreateDatabase {
        name: String,
        options: DatabaseOptions,
    },
    AlterDatabase {
        name: String,
        options: DatabaseOptions,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
    },
    /// `ALTER DATABASE name RENAME TO new_name`.
    RenameDatabase {
        name: String,
        new_name: String,
    },
    CreateRole {
        name: String,
        options: RoleOptions,
    },
    AlterRole {
        name: String,
        options: RoleOptions,
        /// The role was named `CURRENT_USER`, `CURRENT_ROLE` or `SESSION_USER` (unquoted): the session's own,
        /// whatever `name` says.
        current: bool,
    },
    DropRole {
        names: Vec<String>,
        if_exists: bool,
    },
    /// LISTEN / UNLISTEN (None: `*`) / NOTIFY: sessions' notifications, which the host runs too.
    Listen(String),
    Unlisten(Option<String>),
    Notify {
        channel: String,
        payload: String,
    },
}

/// The database options a command gives (None: not mentioned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseOptions {
    pub allow_connections: Option<bool>,
    /// The engine's name as written, lower-cased (`sqlite`, `postgresql`; checked by the command).
    pub engine: Option<String>,
    /// A postgresql-engine database's connection string.
    pub connection: Option<String>,
}

/// The role options a command gives (None: not mentioned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleOptions {
    pub login: Option<bool>,
    pub superuser: Option<bool>,
    /// Some(None) is `PASSWORD NULL`.
    pub password: Option<Option<String>>,
}

impl CatalogCommand {
    /// The command tag PostgreSQL sends.
    pub fn tag(&self) -> &'static str {
        match self {
            CatalogCommand::CreateDatabase { .. } => "CREATE DATABASE",
            CatalogCommand::AlterDatabase { .. } => "ALTER DATABASE",
            CatalogCommand::DropDatabase { .. } => "DROP DATABASE",
            CatalogCommand::RenameDatabase { .. } => "ALTER DATABASE",
            CatalogCommand::CreateRole { .. } => "CREATE ROLE",
            CatalogCommand::AlterRole { .. } => "ALTER ROLE",
            CatalogCommand::DropRole { .. } => "DROP ROLE",
            CatalogCommand::Listen(_) => "LISTEN",
            CatalogCommand::Unlisten(_) => "UNLISTEN",
            CatalogCommand::Notify { .. } => "NOTIFY",
        }
    }
}

fn words(sql: &str, n: usize) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else { return Vec::new() };
    tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .take(n)
        .map(|t| match t {
            Token::Word(w) => w.value.to_ascii_uppercase(),
            other => other.to_string(),
        })
        .collect()
}

/// If the first statement of `sql` is a catalog command, its length in bytes (up to and including its
/// semicolon, if any). Cheap for every other statement: it looks at the first word before tokenizing.
pub fn first_catalog_statement(sql: &str) -> Option<usize> {
    if !is_catalog_command(sql) {
        return None;
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location().ok()?;
    let semicolon = tokens.iter().find(|t| t.token == Token::SemiColon)?;
    // Locations are 1-based lines and columns (in characters): find the byte offset.
    let (line, column) = (semicolon.span.start.line as usize, semicolon.span.start.column as usize);
    let mut offset = 0;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let in_line: usize = l.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
            return Some(offset + in_line + 1);
        }
        offset += l.len();
    }
    None
}

/// Whether `sql` (one statement) is a catalog command; cheap enough to ask of every statement.
pub fn is_catalog_command(sql: &str) -> bool {
    let head = sql.trim_start();
    let starts =
        |w: &str| head.len() >= w.len() && head.is_char_boundary(w.len()) && head[..w.len()].eq_ignore_ascii_case(w);
    if starts("LISTEN") || starts("UNLISTEN") || starts("NOTIFY") {
        return matches!(words(sql, 1).first().map(String::as_str), Some("LISTEN" | "UNLISTEN" | "NOTIFY"));
    }
    if !(starts("CREATE") || starts("ALTER") || starts("DROP")) {
        return false;
    }
    let w = words(sql, 2);
    matches!(w.get(1).map(String::as_str), Some("DATABASE" | "ROLE" | "USER"))
}

fn ident_text(id: &sqlparser::ast::Ident) -> String {
    // Unquoted identifiers fold to lower case, as in PostgreSQL.
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

fn object_name(name: &sqlparser::ast::ObjectName) -> Result<String, String> {
    let parts: Vec<String> = name.0.iter().filter_map(|p| p.as_ident()).map(ident_text).collect();
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("improper qualified name (too many dotted names): {name}")),
    }
}

fn role_options(options: impl IntoIterator<Item = RoleOption>) -> Result<RoleOptions, String> {
    let mut out = RoleOptions::default();
    for o in options {
        match o {
            RoleOption::Login(b) => out.login = Some(b),
            RoleOption::SuperUser(b) => out.superuser = Some(b),
            RoleOption::Password(Password::Password(expr)) => out.password = Some(Some(string_literal(&expr)?)),
            RoleOption::Password(Password::NullPassword) => out.password = Some(None),
            other => return Err(format!("role option {other} is not supported")),
        }
    }
    Ok(out)
}

fn string_literal(expr: &sqlparser::ast::Expr) -> Result<String, String> {
    match expr {
        sqlparser::ast::Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::SingleQuotedString(s) => Ok(s.clone()),
            other => Err(format!("password must be a string literal, not {other}")),
        },
        other => Err(format!("password must be a string literal, not {other}")),
    }
}

/// `[WITH] option [=] value ...` of CREATE/ALTER DATABASE, at the parser's position, to the end of the
/// statement: `ALLOW_CONNECTIONS` bool, `ENGINE` name, `CONNECTION` string.
fn parse_database_options(parser: &mut Parser<'_>) -> Result<DatabaseOptions, String> {
    let _ = parser.parse_keyword(Keyword::WITH);
    let mut options = DatabaseOptions::default();
    loop {
        let _ = parser.consume_token(&Token::SemiColon);
        if parser.peek_token().token == Token::EOF {
            return Ok(options);
        }
        let option = parser.parse_identifier().map_err(|e| e.to_string())?.value.to_ascii_lowercase();
        let _ = parser.consume_token(&Token::Eq);
        let value = parser.next_token().token;
        match option.as_str() {
            "allow_connections" => {
                options.allow_connections = Some(match &value {
                    Token::Word(w) => match w.value.to_ascii_lowercase().as_str() {
                        "true" | "on" | "yes" => true,
                        "false" | "off" | "no" => false,
                        other => return Err(format!("allow_connections requires a Boolean value, not \"{other}\"")),
                    },
                    Token::Number(n, _) if n == "1" || n == "0" => n == "1",
                    other => return Err(format!("allow_connections requires a Boolean value, not \"{other}\"")),
                })
            }
            "engine" => {
                options.engine = Some(match value {
                    Token::Word(w) => w.value.to_ascii_lowercase(),
                    Token::SingleQuotedString(s) => s.to_ascii_lowercase(),
                    other => return Err(format!("syntax error at or near \"{other}\"")),
                })
            }
            "connection" => {
                options.connection = Some(match value {
                    Token::SingleQuotedString(s) => s,
                    other => return Err(format!("connection requires a string value, not \"{other}\"")),
                })
            }
            other => return Err(format!("option \"{other}\" not recognized")),
        }
    }
}

/// Parses a catalog command (see [`is_catalog_command`]). Errors are the message of a syntax error (42601).
pub fn parse(sql: &str) -> Result<CatalogCommand, String> {
    let dialect = PostgreSqlDialect {};
    let w = words(sql, 2);
    if matches!(
        (w.first().map(String::as_str), w.get(1).map(String::as_str)),
        (Some("CREATE" | "ALTER"), Some("DATABASE"))
    ) {
        let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(|e| e.to_string())?;
        let alter = parser.parse_keyword(Keyword::ALTER);
        if !alter {
            parser.expect_keyword(Keyword::CREATE).map_err(|e| e.to_string())?;
        }
        parser.expect_keyword(Keyword::DATABASE).map_err(|e| e.to_string())?;
        let name = object_name(&parser.parse_object_name(false).map_err(|e| e.to_string())?)?;
        if alter && parser.parse_keywords(&[Keyword::RENAME, Keyword::TO]) {
            let new_name = object_name(&parser.parse_object_name(false).map_err(|e| e.to_string())?)?;
            let _ = parser.consume_token(&Token::SemiColon);
            if parser.peek_token().token != Token::EOF {
                return Err(format!("syntax error at or near \"{}\"", parser.peek_token().token));
            }
            return Ok(CatalogCommand::RenameDatabase { name, new_name });
        }
        let options = parse_database_options(&mut parser)?;
        return Ok(if alter {
            if options == DatabaseOptions::default() {
                return Err("ALTER DATABASE needs an option (ALLOW_CONNECTIONS, CONNECTION)".into());
            }
            CatalogCommand::AlterDatabase { name, options }
        } else {
            CatalogCommand::CreateDatabase { name, options }
        });
    }
    // PostgreSQL's CREATE/ALTER USER are CREATE/ALTER ROLE (CREATE USER implying LOGIN, below); sqlparser reads
    // them as other statements, so the keyword is replaced at the token level before parsing.
    let as_role;
    let sql = if matches!(
        (w.first().map(String::as_str), w.get(1).map(String::as_str)),
        (Some("CREATE" | "ALTER"), Some("USER"))
    ) {
        let tokens = Tokenizer::new(&dialect, sql).tokenize().map_err(|e| e.to_string())?;
        let mut replaced = false;
        as_role = tokens
            .into_iter()
            .map(|t| match t {
                Token::Word(w) if !replaced && w.keyword == Keyword::USER => {
                    replaced = true;
                    "ROLE".to_string()
                }
                other => other.to_string(),
            })
            .collect::<String>();
        as_role.as_str()
    } else {
        sql
    };
    let statements = Parser::parse_sql(&dialect, sql).map_err(|e| e.to_string())?;
    let [statement] = statements.as_slice() else { return Err("expected one statement".into()) };
    match statement {
        Statement::CreateRole(create) => {
            let [name] = create.names.as_slice() else { return Err("CREATE ROLE takes one role name".into()) };
            // Options this host has no use for are refused, not ignored.
            let unsupported = [
                ("CREATEDB", create.create_db.is_some()),
                ("CREATEROLE", create.create_role.is_some()),
                ("INHERIT", create.inherit.is_some()),
                ("BYPASSRLS", create.bypassrls.is_some()),
                ("REPLICATION", create.replication.is_some()),
                ("CONNECTION LIMIT", create.connection_limit.is_some()),
                ("VALID UNTIL", create.valid_until.is_some()),
                ("IN ROLE", !create.in_role.is_empty()),
                ("ROLE", !create.role.is_empty()),
                ("ADMIN", !create.admin.is_empty()),
            ];
            if let Some((option, _)) = unsupported.iter().find(|(_, given)| *given) {
                return Err(format!("role option {option} is not supported"));
            }
            let mut options = Vec::new();
            if let Some(b) = create.login {
                options.push(RoleOption::Login(b));
            }
            if let Some(b) = create.superuser {
                options.push(RoleOption::SuperUser(b));
            }
            if let Some(p) = create.password.clone() {
                options.push(RoleOption::Password(p));
            }
            let mut opts = role_options(options)?;
            // CREATE USER means LOGIN unless it says otherwise.
            if w.get(1).map(String::as_str) == Some("USER") && opts.login.is_none() {
                opts.login = Some(true);
            }
            Ok(CatalogCommand::CreateRole { name: object_name(name)?, options: opts })
        }
        Statement::AlterRole { name, operation } => match operation {
            sqlparser::ast::AlterRoleOperation::WithOptions { options } => {
                let current = name.quote_style.is_none()
                    && ["CURRENT_USER", "CURRENT_ROLE", "SESSION_USER"].contains(&name.value.to_uppercase().as_str());
                Ok(CatalogCommand::AlterRole {
                    name: ident_text(name),
                    options: role_options(options.clone())?,
                    current,
                })
            }
            other => Err(format!("ALTER ROLE {other} is not supported")),
        },
        Statement::Drop { object_type: ObjectType::Database, if_exists, names, .. } => {
            let [name] = names.as_slice() else { return Err("DROP DATABASE takes one database name".into()) };
            Ok(CatalogCommand::DropDatabase { name: object_name(name)?, if_exists: *if_exists })
        }
        Statement::Drop { object_type: ObjectType::Role | ObjectType::User, if_exists, names, .. } => {
            Ok(CatalogCommand::DropRole {
                names: names.iter().map(object_name).collect::<Result<_, _>>()?,
                if_exists: *if_exists,
            })
        }
        Statement::LISTEN { channel } => Ok(CatalogCommand::Listen(ident_text(channel))),
        Statement::UNLISTEN { channel } if channel.value == "*" => Ok(CatalogCommand::Unlisten(None)),
        Statement::UNLISTEN { channel } => Ok(CatalogCommand::Unlisten(Some(ident_text(channel)))),
        Statement::NOTIFY { channel, payload } => {
            Ok(CatalogCommand::Notify { channel: ident_text(channel), payload: payload.clone().unwrap_or_default() })
        }
        other => Err(format!("not a catalog command: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_catalog_commands_cheaply() {
        for sql in ["CREATE DATABASE x", "  drop role y", "ALTER USER z LOGIN", "create database \"Q\""] {
            assert!(is_catalog_command(sql), "{sql}");
        }
        for sql in ["CREATE TABLE t (a int)", "SELECT 'CREATE DATABASE x'", "DROP TABLE t", "", "DROP"] {
            assert!(!is_catalog_command(sql), "{sql}");
        }
    }

    #[test]
    fn finds_where_a_catalog_command_ends() {
        let sql = "CREATE DATABASE \"a;b\" ; SELECT 1";
        let n = first_catalog_statement(sql).unwrap();
        assert_eq!(&sql[..n], "CREATE DATABASE \"a;b\" ;");
        assert_eq!(first_catalog_statement("DROP ROLE x"), None, "no semicolon: the whole rest is the statement");
        assert_eq!(first_catalog_statement("SELECT 1; CREATE DATABASE x;"), None);
        let multi = "CREATE ROLE r\n  LOGIN;\nSELECT 2";
        assert_eq!(&multi[..first_catalog_statement(multi).unwrap()], "CREATE ROLE r\n  LOGIN;");
    }

    #[test]
    fn parses_notification_commands() {
        assert!(
            is_catalog_command("listen Foo") && is_catalog_command("NOTIFY x, 'y'") && is_catalog_command("UNLISTEN *")
        );
        assert!(!is_catalog_command("LISTENER") && !is_catalog_command("notify_me()"));
        assert_eq!(parse("LISTEN Foo").unwrap(), CatalogCommand::Listen("foo".into()));
        assert_eq!(parse("UNLISTEN *").unwrap(), CatalogCommand::Unlisten(None));
        assert_eq!(parse("UNLISTEN \"Foo\"").unwrap(), CatalogCommand::Unlisten(Some("Foo".into())));
        assert_eq!(
            parse("NOTIFY ch, 'it''s'").unwrap(),
            CatalogCommand::Notify { channel: "ch".into(), payload: "it's".into() }
        );
        assert_eq!(
            parse("NOTIFY ch").unwrap(),
            CatalogCommand::Notify { channel: "ch".into(), payload: String::new() }
        );
    }

    #[test]
    fn parses_database_commands() {
        assert_eq!(
            parse("CREATE DATABASE Foo").unwrap(),
            CatalogCommand::CreateDatabase { name: "foo".into(), options: DatabaseOptions::default() }
        );
        let no_connections = DatabaseOptions { allow_connections: Some(false), ..Default::default() };
        assert_eq!(
            parse("CREATE DATABASE \"Foo\" WITH ALLOW_CONNECTIONS false").unwrap(),
            CatalogCommand::CreateDatabase { name: "Foo".into(), options: no_connections }
        );
        let connections = DatabaseOptions { allow_connections: Some(true), ..Default::default() };
        assert_eq!(
            parse("ALTER DATABASE foo ALLOW_CONNECTIONS = true;").unwrap(),
            CatalogCommand::AlterDatabase { name: "foo".into(), options: connections }
        );
        let remote = DatabaseOptions {
            allow_connections: None,
            engine: Some("postgresql".into()),
            connection: Some("host=h dbname=app".into()),
        };
        assert_eq!(
            parse("CREATE DATABASE app WITH ENGINE = PostgreSQL CONNECTION = 'host=h dbname=app'").unwrap(),
            CatalogCommand::CreateDatabase { name: "app".into(), options: remote }
        );
        let moved = DatabaseOptions { connection: Some("host=other".into()), ..Default::default() };
        assert_eq!(
            parse("ALTER DATABASE app CONNECTION 'host=other'").unwrap(),
            CatalogCommand::AlterDatabase { name: "app".into(), options: moved }
        );
        assert!(parse("CREATE DATABASE app CONNECTION host").is_err());
        assert_eq!(
            parse("DROP DATABASE IF EXISTS foo").unwrap(),
            CatalogCommand::DropDatabase { name: "foo".into(), if_exists: true }
        );
        assert!(parse("CREATE DATABASE foo WITH OWNER bob").unwrap_err().contains("option \"owner\" not recognized"));
        assert!(parse("ALTER DATABASE foo").is_err());
        assert_eq!(
            parse("ALTER DATABASE foo RENAME TO \"Bar\";").unwrap(),
            CatalogCommand::RenameDatabase { name: "foo".into(), new_name: "Bar".into() }
        );
        assert!(parse("ALTER DATABASE foo RENAME TO bar baz").is_err());
        assert!(parse("CREATE DATABASE foo ALLOW_CONNECTIONS maybe").is_err());
        assert!(parse("CREATE DATABASE a.b").is_err());
    }

    #[test]
    fn parses_role_commands() {
        let c = parse("CREATE ROLE Bob LOGIN SUPERUSER PASSWORD 'p''w'").unwrap();
        assert_eq!(
            c,
            CatalogCommand::CreateRole {
                name: "bob".into(),
                options: RoleOptions { login: Some(true), superuser: Some(true), password: Some(Some("p'w".into())) }
            }
        );
        let CatalogCommand::CreateRole { options, .. } = parse("CREATE USER u").unwrap() else { panic!() };
        assert_eq!(options.login, Some(true));
        let CatalogCommand::CreateRole { options, .. } = parse("CREATE ROLE r").unwrap() else { panic!() };
        assert_eq!(options.login, None);
        assert_eq!(
            parse("ALTER ROLE bob WITH NOLOGIN PASSWORD NULL").unwrap(),
            CatalogCommand::AlterRole {
                name: "bob".into(),
                options: RoleOptions { login: Some(false), superuser: None, password: Some(None) },
                current: false,
            }
        );
        for (sql, current) in [
            ("ALTER ROLE CURRENT_USER PASSWORD 'x'", true),
            ("alter user current_user with password 'x'", true),
            ("ALTER ROLE SESSION_USER PASSWORD 'x'", true),
            ("ALTER ROLE CURRENT_ROLE PASSWORD 'x'", true),
            ("ALTER ROLE \"CURRENT_USER\" PASSWORD 'x'", false),
        ] {
            let parsed = parse(sql);
            let Ok(CatalogCommand::AlterRole { current: c, options, .. }) = parsed else { panic!("{sql}: {parsed:?}") };
            assert_eq!((c, options.password), (current, Some(Some("x".to_string()))), "{sql}");
        }
        assert_eq!(
            parse("DROP ROLE IF EXISTS a, b").unwrap(),
            CatalogCommand::DropRole { names: vec!["a".into(), "b".into()], if_exists: true }
        );
        assert!(parse("CREATE ROLE r CREATEDB").is_err());
        let CatalogCommand::AlterRole { options, .. } = parse("ALTER USER u NOLOGIN").unwrap() else { panic!() };
        assert_eq!(options.login, Some(false));
        assert_eq!(
            parse("DROP USER u").unwrap(),
            CatalogCommand::DropRole { names: vec!["u".into()], if_exists: false }
        );
    }
}
