//! The reference side of the HSM benchmarks: bare PKCS#11 through `cryptoki`, with nothing of
//! Tessera's in between.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;

/// Makes a fresh SoftHSM2 token `label` in a temporary directory and runs this program again
/// with it (`SOFTHSM2_CONF`, which the module reads once per process), `child` set in the
/// re-run's environment; the token is removed afterwards.
pub fn rerun_with_token(module: &Path, label: &str, pin: &str, child: &str) -> anyhow::Result<()> {
    let token =
        tessera_hsm::softhsm::SoftHsmToken::create(module, label, pin).map_err(|e| anyhow!(e))?;
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(child, "1")
        .env("SOFTHSM2_CONF", &token.conf)
        .status()?;
    if !status.success() {
        bail!("benchmark failed ({status})");
    }
    Ok(())
}

/// The module, initialised (or already so in this process), and the slot of token `label`.
pub fn open(module: &Path, label: &str) -> anyhow::Result<(Pkcs11, Slot)> {
    let ctx = Pkcs11::new(module)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(e.into()),
    }
    let slot = ctx
        .get_slots_with_token()?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|i| i.label().trim_end() == label)
        })
        .with_context(|| format!("token {label} not found"))?;
    Ok((ctx, slot))
}

/// `module PATH (DESCRIPTION MAJOR.MINOR)`, for a benchmark's first line.
pub fn describe(ctx: &Pkcs11, module: &Path) -> anyhow::Result<String> {
    let info = ctx.get_library_info()?;
    Ok(format!(
        "module {} ({} {}.{})",
        module.display(),
        info.library_description().trim_end(),
        info.library_version().major(),
        info.library_version().minor(),
    ))
}

/// A read-write session on `slot`, logged in as the user.
pub fn login(ctx: &Pkcs11, slot: Slot, pin: &str) -> anyhow::Result<Session> {
    let session = ctx.open_rw_session(slot)?;
    match session.login(UserType::User, Some(&cryptoki::types::AuthPin::from(pin))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(session)
}
