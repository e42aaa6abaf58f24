//! The messages' templates (minijinja): per kind a subject (`{kind}.subject.txt`), a plain text
//! part (`{kind}.txt`) and an HTML part (`{kind}.html`, auto-escaped, extending `layout.html`).
//! Built in, each overridable by a file of the same name in `--mail-templates DIR`. Every
//! template is rendered once at start with sample values, strictly (an unknown variable is an
//! error), so a broken override stops the start instead of a message.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, Result, bail};
use minijinja::{Environment, UndefinedBehavior};

use super::MailKind;

/// The built-in templates, by file name.
const BUILTIN: &[(&str, &str)] = &[
    ("layout.html", include_str!("builtin/layout.html")),
    (
        "verify_email.subject.txt",
        include_str!("builtin/verify_email.subject.txt"),
    ),
    ("verify_email.txt", include_str!("builtin/verify_email.txt")),
    (
        "verify_email.html",
        include_str!("builtin/verify_email.html"),
    ),
    (
        "reset_password.subject.txt",
        include_str!("builtin/reset_password.subject.txt"),
    ),
    (
        "reset_password.txt",
        include_str!("builtin/reset_password.txt"),
    ),
    (
        "reset_password.html",
        include_str!("builtin/reset_password.html"),
    ),
    (
        "change_email.subject.txt",
        include_str!("builtin/change_email.subject.txt"),
    ),
    ("change_email.txt", include_str!("builtin/change_email.txt")),
    (
        "change_email.html",
        include_str!("builtin/change_email.html"),
    ),
    (
        "email_change_notice.subject.txt",
        include_str!("builtin/email_change_notice.subject.txt"),
    ),
    (
        "email_change_notice.txt",
        include_str!("builtin/email_change_notice.txt"),
    ),
    (
        "email_change_notice.html",
        include_str!("builtin/email_change_notice.html"),
    ),
    (
        "invite.subject.txt",
        include_str!("builtin/invite.subject.txt"),
    ),
    ("invite.txt", include_str!("builtin/invite.txt")),
    ("invite.html", include_str!("builtin/invite.html")),
    ("test.subject.txt", include_str!("builtin/test.subject.txt")),
    ("test.txt", include_str!("builtin/test.txt")),
    ("test.html", include_str!("builtin/test.html")),
];

/// A message as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The templates in use: the built-in ones, with the overrides of `--mail-templates`.
#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
    /// The files that replaced a built-in template.
    pub overridden: Vec<PathBuf>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("overridden", &self.overridden)
            .finish()
    }
}

impl Templates {
    /// The built-in templates, each replaced by the file of its name in `dir` if there is one;
    /// every one checked by a rendering with sample values.
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut overridden = Vec::new();
        if let Some(dir) = dir
            && !dir.is_dir()
        {
            bail!("--mail-templates {} is not a directory", dir.display());
        }
        for (name, builtin) in BUILTIN {
            let file = dir.map(|dir| dir.join(name)).filter(|file| file.is_file());
            let source = match &file {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read mail template {}", file.display()))?,
                None => (*builtin).to_owned(),
            };
            env.add_template_owned(*name, source)
                .with_context(|| format!("mail template {}", shown(name, file.as_deref())))?;
            overridden.extend(file);
        }
        let templates = Self {
            env: Arc::new(env),
            overridden,
        };
        for kind in MailKind::ALL {
            templates
                .render(kind, &sample(kind))
                .with_context(|| format!("the {} templates do not render", kind.as_str()))?;
        }
        Ok(templates)
    }

    /// Renders the three parts of a `kind` message with `vars`.
    pub fn render(&self, kind: MailKind, vars: &BTreeMap<String, String>) -> Result<Rendered> {
        let part = |suffix: &str| -> Result<String> {
            let name = format!("{}.{suffix}", kind.as_str());
            let template = self.env.get_template(&name)?;
            template
                .render(vars)
                .map_err(|e| anyhow::anyhow!("{name}: {e:#}"))
        };
        let subject = part("subject.txt")?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            bail!("{}.subject.txt renders to nothing", kind.as_str());
        }
        Ok(Rendered {
            subject,
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

fn shown(name: &str, file: Option<&Path>) -> String {
    match file {
        Some(file) => file.display().to_string(),
        None => format!("{name} (built in)"),
    }
}

/// The variables a `kind` message is rendered with, as samples: what every message has
/// (`org_name`, `to`), its `link` and `code` when its kind has them, and its kind's own.
pub fn sample(kind: MailKind) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([
        ("org_name".to_owned(), "Acme".to_owned()),
        ("to".to_owned(), "ada@example.com".to_owned()),
    ]);
    if kind.has_link() {
        vars.insert(
            "link".into(),
            "https://app.example.com/verify?token=tkt_sample".into(),
        );
    }
    if kind.has_code() {
        vars.insert("code".into(), "123456".into());
    }
    for name in kind.required_vars() {
        vars.insert((*name).to_owned(), "ada.new@example.com".into());
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_kind_renders_its_link_and_code_and_escapes_html() {
        let templates = Templates::load(None).unwrap();
        for kind in MailKind::ALL {
            let vars = sample(kind);
            let rendered = templates.render(kind, &vars).unwrap();
            assert!(rendered.subject.contains("Acme"), "{rendered:?}");
            assert!(!rendered.subject.contains('\n'));
            for part in [&rendered.text, &rendered.html] {
                assert_eq!(part.contains("tkt_sample"), kind.has_link(), "{kind:?}");
                assert_eq!(part.contains("123456"), kind.has_code(), "{kind:?}");
            }
        }
        let mut vars = sample(MailKind::Test);
        vars.insert("org_name".into(), "<b>Acme & Co</b>".into());
        let rendered = templates.render(MailKind::Test, &vars).unwrap();
        assert!(
            rendered
                .html
                .contains("&lt;b&gt;Acme &amp; Co&lt;&#x2f;b&gt;"),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains("<b>Acme & Co</b>"));
    }

    #[test]
    fn an_override_replaces_its_template_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("test.subject.txt"),
            "Ping from {{ org_name }}",
        )
        .unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let rendered = templates
            .render(MailKind::Test, &sample(MailKind::Test))
            .unwrap();
        assert_eq!(rendered.subject, "Ping from Acme");
        assert_eq!(templates.overridden.len(), 1);
        std::fs::write(dir.path().join("invite.txt"), "{{ code }}").unwrap();
        let error = format!("{:#}", Templates::load(Some(dir.path())).unwrap_err());
        assert!(error.contains("invite"), "{error}");
        std::fs::write(dir.path().join("invite.txt"), "{% if %}").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
        assert!(Templates::load(Some(&dir.path().join("missing"))).is_err());
    }
}
