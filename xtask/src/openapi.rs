//! `spec/openapi.json` is written from `users_api::api::spec_json()`, never by hand.

use anyhow::{Context, Result};

use crate::{compare, workspace_root};

fn path() -> std::path::PathBuf {
    workspace_root().join("spec/openapi.json")
}

pub fn generate() -> Result<()> {
    let path = path();
    std::fs::write(&path, users_api::api::spec_json())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

pub fn check() -> Result<()> {
    compare(
        &path(),
        &users_api::api::spec_json(),
        "cargo xtask openapi generate",
    )
}
