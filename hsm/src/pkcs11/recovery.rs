//! Surviving faults of a running token: a rebooting network HSM, a failover, a module
//! re-initialised under Tessera, a token directory that went away and came back.
//!
//! A failed call is retried after a recovery step, escalating while the fault persists: find
//! the key again, open new sessions, log in again, and finally `C_Finalize`/`C_Initialize`.
//! Each step is logged and counted (`tessera_hsm_recoveries_total{step}`). When even
//! re-initialising fails, the token is marked out of service: calls then fail at once as
//! [`Pkcs11Error::Unavailable`] (so that requests get a quick "try again later" rather than
//! queueing on a dead device), except one call every [`RETRY_EVERY`], which re-initialises
//! and tries again — the first to succeed ends the outage.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::error::{Pkcs11Error, Recovery};
use super::session::{Outage, Pool, PooledSession, lock};

/// While the token is out of service, one call this often tries to bring it back.
pub(crate) const RETRY_EVERY: Duration = Duration::from_millis(250);

fn unavailable(cause: impl std::fmt::Display) -> Pkcs11Error {
    Pkcs11Error::Unavailable {
        cause: cause.to_string(),
    }
}

impl Pool {
    /// Runs `op` on a pooled session, recovering from faults as the module comment says.
    pub(crate) fn run<T>(
        &self,
        mut op: impl FnMut(&PooledSession) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        // The step to take before the next attempt.
        let mut step = self.admit()?;
        if step == Recovery::Reinitialize {
            self.count(step);
        }
        loop {
            if step == Recovery::Reinitialize {
                let _exclusive = self.gate.write().unwrap_or_else(|p| p.into_inner());
                self.reinitialize();
            }
            let result = {
                let _shared = self.gate.read().unwrap_or_else(|p| p.into_inner());
                self.attempt(&mut op, step)
            };
            let err = match result {
                Ok(v) => {
                    self.recovered(step);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let fault = self.classify(&err);
            if fault == Recovery::None {
                return Err(err);
            }
            // First the fault's own cure; then, while it persists, the next step up.
            let next = if step == Recovery::None {
                Some(fault)
            } else {
                step.next().map(|n| n.max(fault))
            };
            step = match next {
                Some(next) => next,
                None => return Err(self.out_of_service(&err)),
            };
            self.count(step);
            tracing::warn!(error = %err, step = step.name(), "PKCS#11 fault; recovering");
        }
    }

    fn count(&self, step: Recovery) {
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tessera_hsm_recoveries_total", "step" => step.name()).increment(1);
    }

    /// Whether a call may go to the token now, and with which step first: none normally,
    /// re-initialising when the token is out of service and a retry is due; otherwise the
    /// call fails at once.
    fn admit(&self) -> Result<Recovery, Pkcs11Error> {
        if self.pin_refused.load(Ordering::SeqCst) {
            return Err(unavailable(
                "the token refused the PIN while recovering; restart Tessera with the right PIN",
            ));
        }
        let mut outage = lock(&self.outage);
        match outage.as_mut() {
            None => Ok(Recovery::None),
            Some(o) if o.last_try.elapsed() >= RETRY_EVERY => {
                o.last_try = Instant::now();
                Ok(Recovery::Reinitialize)
            }
            Some(o) => Err(unavailable(format!(
                "out of service for {} ms: {}",
                o.since.elapsed().as_millis(),
                o.cause
            ))),
        }
    }

    /// One try: a session, the recovery step on it, then `op`.
    fn attempt<T>(
        &self,
        op: &mut impl FnMut(&PooledSession) -> Result<T, Pkcs11Error>,
        step: Recovery,
    ) -> Result<T, Pkcs11Error> {
        match step {
            Recovery::FindKey => self.forget_cached_keys(),
            Recovery::NewSession => {
                self.forget_cached_keys();
                self.close_idle();
            }
            _ => {}
        }
        let s = self.checkout()?;
        if step == Recovery::Login {
            // Logging out ends the login of every session of this application; they all
            // get it back at once, as login state is per token.
            let _ = s.session.logout();
            if let Err(e) = self.login(&s) {
                self.close(s);
                return Err(e);
            }
        }
        match op(&s) {
            Ok(v) => {
                self.checkin(s);
                Ok(v)
            }
            Err(e) => {
                if self.classify(&e) >= Recovery::NewSession {
                    self.close(s);
                } else {
                    self.checkin(s);
                }
                Err(e)
            }
        }
    }

    /// What may cure `err`. A key Tessera found before and that is now missing is a fault of
    /// the token (a device that lost its store looks empty); a wrong PIN is never retried.
    fn classify(&self, err: &Pkcs11Error) -> Recovery {
        match err {
            Pkcs11Error::KeyNotFound { id } if lock(&self.known_keys).contains(id) => {
                Recovery::FindKey
            }
            Pkcs11Error::PinIncorrect { .. } | Pkcs11Error::PinLocked { .. } => {
                self.pin_refused.store(true, Ordering::SeqCst);
                tracing::error!(error = %err, "the HSM refused the PIN while recovering; no more logins will be tried");
                Recovery::None
            }
            other => other.recovery(),
        }
    }

    fn out_of_service(&self, err: &Pkcs11Error) -> Pkcs11Error {
        let mut outage = lock(&self.outage);
        if outage.is_none() {
            tracing::error!(error = %err, "the HSM is out of service; requests that need it fail until it is back");
            metrics::gauge!("tessera_hsm_up").set(0.0);
            let now = Instant::now();
            *outage = Some(Outage {
                since: now,
                last_try: now,
                cause: err.to_string(),
            });
        }
        unavailable(err)
    }

    fn recovered(&self, step: Recovery) {
        if step == Recovery::None {
            return;
        }
        if let Some(o) = lock(&self.outage).take() {
            metrics::gauge!("tessera_hsm_up").set(1.0);
            tracing::warn!(
                after_ms = o.since.elapsed().as_millis() as u64,
                "the HSM is back in service"
            );
        } else {
            tracing::info!(step = step.name(), "PKCS#11 fault recovered");
        }
    }
}
