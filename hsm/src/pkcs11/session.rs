//! Session management (PKCS#11 §5.6): a pool of logged-in sessions, and recovery from the
//! faults a long-running server meets (closed sessions, a logged-out token, a removed device,
//! a module re-initialised under it).
//!
//! A `Session` is `Send` but not `Sync`: each signature borrows a whole session from the pool
//! and gives it back, so as many signatures run at once as there are sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;

use super::config::Pkcs11Config;
use super::error::{Pkcs11Error, Recovery};
use super::slot_token::{find_token, load_module, token_label};

/// How many times one request is retried after a recoverable fault.
const MAX_RECOVERIES: usize = 3;

/// One loaded module and the slot holding our token. A new generation starts whenever the
/// module has to be reloaded; sessions and object handles of older generations are never used.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) ctx: Pkcs11,
    pub(crate) slot: Slot,
    pub(crate) generation: u64,
    pub(crate) label: String,
    /// `CK_TOKEN_INFO.manufacturerID` and `model`, e.g. "SoftHSM project SoftHSM v2".
    pub(crate) maker: String,
}

/// A session borrowed from the pool.
#[derive(Debug)]
pub(crate) struct PooledSession {
    pub(crate) session: Session,
    pub(crate) conn: Arc<Connection>,
}

#[derive(Debug)]
struct State {
    conn: Option<Arc<Connection>>,
    idle: Vec<PooledSession>,
    /// Sessions open (idle or lent out).
    open: usize,
    /// Threads waiting for a session: only then is the condition variable signalled (a
    /// signal is a system call, on every signature otherwise).
    waiting: usize,
}

#[derive(Debug)]
pub(crate) struct Pool {
    config: Pkcs11Config,
    state: Mutex<State>,
    freed: Condvar,
    generation: AtomicU64,
    /// Faults recovered from, for logs and tests.
    recoveries: AtomicU64,
    /// Private-key handles by CKA_ID, valid for one generation.
    keys: Mutex<HashMap<Vec<u8>, (u64, ObjectHandle)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    /// Loads the module, finds the token and logs in once, so that a missing module, a missing
    /// token or a wrong PIN is reported now rather than at the first signature.
    pub(crate) fn open(config: Pkcs11Config) -> Result<Pool, Pkcs11Error> {
        let pool = Pool {
            config,
            state: Mutex::new(State {
                conn: None,
                idle: Vec::new(),
                open: 0,
                waiting: 0,
            }),
            freed: Condvar::new(),
            generation: AtomicU64::new(1),
            recoveries: AtomicU64::new(0),
            keys: Mutex::new(HashMap::new()),
        };
        let first = pool.checkout()?;
        pool.checkin(first);
        Ok(pool)
    }

    pub(crate) fn config(&self) -> &Pkcs11Config {
        &self.config
    }

    fn connect(&self, generation: u64) -> Result<Arc<Connection>, Pkcs11Error> {
        let ctx = load_module(&self.config.module)?;
        let (slot, info) = find_token(&ctx, &self.config.token, &self.config.module)?;
        let label = token_label(&info);
        if info.user_pin_locked() {
            return Err(Pkcs11Error::PinLocked { token: label });
        }
        let maker = format!(
            "{} {}",
            info.manufacturer_id().trim_end(),
            info.model().trim_end()
        );
        Ok(Arc::new(Connection {
            ctx,
            slot,
            generation,
            label,
            maker,
        }))
    }

    /// Opens a read-write session and logs the user in (once per application: other sessions
    /// answer `CKR_USER_ALREADY_LOGGED_IN`, which is success).
    fn new_session(&self, conn: &Arc<Connection>) -> Result<PooledSession, Pkcs11Error> {
        // Closed explicitly, and only while known to be valid: a stale handle number may
        // belong to a new session after the module was re-initialised.
        let session = conn.ctx.open_rw_session_no_drop(conn.slot)?;
        let pooled = PooledSession {
            session,
            conn: conn.clone(),
        };
        if let Err(e) = self.login(&pooled) {
            let _ = pooled.session.close();
            return Err(e);
        }
        Ok(pooled)
    }

    pub(crate) fn login(&self, s: &PooledSession) -> Result<(), Pkcs11Error> {
        let pin = self.config.pin.to_auth_pin();
        match s.session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let final_try = s
                    .conn
                    .ctx
                    .get_token_info(s.conn.slot)
                    .map(|i| i.user_pin_final_try() || i.user_pin_locked())
                    .unwrap_or(false);
                Err(Pkcs11Error::PinIncorrect {
                    token: s.conn.label.clone(),
                    final_try,
                })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
                token: s.conn.label.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Borrows a session, opening one (and reloading the module) when needed; waits while
    /// every session is busy.
    pub(crate) fn checkout(&self) -> Result<PooledSession, Pkcs11Error> {
        let mut st = lock(&self.state);
        loop {
            if let Some(s) = st.idle.pop() {
                return Ok(s);
            }
            if st.open < self.config.max_sessions.max(1) {
                let conn = match &st.conn {
                    Some(c) => c.clone(),
                    None => {
                        let c = self.connect(self.generation.load(Ordering::SeqCst))?;
                        st.conn = Some(c.clone());
                        c
                    }
                };
                st.open += 1;
                drop(st);
                return match self.new_session(&conn) {
                    Ok(s) => Ok(s),
                    Err(e) => {
                        let mut st = lock(&self.state);
                        st.open = st.open.saturating_sub(1);
                        self.wake(&st);
                        Err(e)
                    }
                };
            }
            st.waiting += 1;
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
            st.waiting -= 1;
        }
    }

    /// Gives a healthy session back.
    pub(crate) fn checkin(&self, s: PooledSession) {
        if s.conn.generation != self.generation.load(Ordering::SeqCst) {
            return self.discard(s);
        }
        let mut st = lock(&self.state);
        st.idle.push(s);
        self.wake(&st);
    }

    fn wake(&self, st: &State) {
        if st.waiting > 0 {
            self.freed.notify_one();
        }
    }

    /// Forgets a broken or stale session without calling the module about it.
    pub(crate) fn discard(&self, s: PooledSession) {
        drop(s);
        let mut st = lock(&self.state);
        st.open = st.open.saturating_sub(1);
        self.wake(&st);
    }

    /// Starts a new generation: every session and handle of `failed` is abandoned and the
    /// module is loaded again (initialising it if it was finalised) on the next checkout.
    fn reload(&self, failed: u64) {
        let mut st = lock(&self.state);
        if self.generation.load(Ordering::SeqCst) != failed {
            return; // another thread already did
        }
        self.generation.store(failed + 1, Ordering::SeqCst);
        let stale = st.idle.len();
        st.idle.clear();
        st.open = st.open.saturating_sub(stale);
        st.conn = None;
        lock(&self.keys).clear();
        self.freed.notify_all();
        tracing::warn!(
            token = %self.config.token,
            "reloading the PKCS#11 module after a device fault"
        );
    }

    /// Runs `op` on a pooled session; recovers from faults that reopening a session, logging
    /// in again or reloading the module cures, without failing the request.
    pub(crate) fn run<T>(
        &self,
        mut op: impl FnMut(&PooledSession) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        let mut recoveries = 0;
        let mut next: Option<PooledSession> = None;
        loop {
            let s = match next.take() {
                Some(s) => s,
                None => self.checkout()?,
            };
            if s.conn.generation != self.generation.load(Ordering::SeqCst) {
                self.discard(s);
                continue;
            }
            let err = match op(&s) {
                Ok(v) => {
                    self.checkin(s);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let recovery = err.recovery();
            if recovery == Recovery::None {
                self.checkin(s);
                return Err(err);
            }
            recoveries += 1;
            if recoveries > MAX_RECOVERIES {
                self.discard(s);
                return Err(err);
            }
            self.recoveries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, ?recovery, "PKCS#11 fault; recovering");
            match recovery {
                Recovery::Login => match self.login(&s) {
                    Ok(()) => next = Some(s),
                    Err(e) if e.recovery() == Recovery::None => {
                        self.checkin(s);
                        return Err(e);
                    }
                    Err(_) => self.discard(s),
                },
                Recovery::FindKey => {
                    lock(&self.keys).clear();
                    next = Some(s);
                }
                Recovery::NewSession => {
                    // Lost sessions often mean a module re-initialised under us, which also
                    // renumbers objects: look keys up again too.
                    lock(&self.keys).clear();
                    self.discard(s);
                }
                Recovery::Reload | Recovery::None => {
                    let generation = s.conn.generation;
                    self.discard(s);
                    self.reload(generation);
                }
            }
        }
    }

    pub(crate) fn cached_key(&self, s: &PooledSession, id: &[u8]) -> Option<ObjectHandle> {
        match lock(&self.keys).get(id) {
            Some((generation, handle)) if *generation == s.conn.generation => Some(*handle),
            _ => None,
        }
    }

    pub(crate) fn cache_key(&self, s: &PooledSession, id: &[u8], handle: ObjectHandle) {
        lock(&self.keys).insert(id.to_vec(), (s.conn.generation, handle));
    }

    pub(crate) fn forget_key(&self, id: &[u8]) {
        lock(&self.keys).remove(id);
    }

    /// Whether the session has lost its login (private objects are then invisible, so a key
    /// that is not found may only be hidden).
    pub(crate) fn logged_out(s: &PooledSession) -> bool {
        matches!(
            s.session.get_session_info().map(|i| i.session_state()),
            Ok(SessionState::RoPublic | SessionState::RwPublic)
        )
    }

    pub(crate) fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }

    /// Token manufacturer and model, as the module reports them.
    pub(crate) fn token_maker(&self) -> String {
        lock(&self.state)
            .conn
            .as_ref()
            .map(|c| c.maker.clone())
            .unwrap_or_default()
    }

    /// Token label, as the module reports it.
    pub(crate) fn token_label(&self) -> String {
        lock(&self.state)
            .conn
            .as_ref()
            .map(|c| c.label.clone())
            .unwrap_or_else(|| self.config.token.to_string())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        let current = self.generation.load(Ordering::SeqCst);
        for s in st.idle.drain(..) {
            if s.conn.generation == current {
                let _ = s.session.close();
            }
        }
    }
}
