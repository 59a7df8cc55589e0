//! Session management (PKCS#11 §5.6): a pool of logged-in sessions, and recovery from the
//! faults a long-running server meets (closed sessions, a logged-out token, a removed device,
//! a module re-initialised under it).
//!
//! A `Session` is `Send` but not `Sync`: each signature borrows a whole session from the pool
//! and gives it back, so as many signatures run at once as there are sessions.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;

use super::config::Pkcs11Config;
use super::error::Pkcs11Error;
use super::slot_token::{find_token, load_module, token_label};

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

/// The token is out of service (see [`super::recovery`]).
#[derive(Debug)]
pub(crate) struct Outage {
    pub(crate) since: std::time::Instant,
    /// When the last call tried to bring it back.
    pub(crate) last_try: std::time::Instant,
    pub(crate) cause: String,
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
    pub(crate) recoveries: AtomicU64,
    /// Private-key handles by CKA_ID, valid for one generation.
    keys: Mutex<HashMap<Vec<u8>, (u64, ObjectHandle)>>,
    /// CKA_IDs (hex) of keys found on the token since it was opened: one of these missing is a
    /// fault of the token, not a wrong reference.
    pub(crate) known_keys: Mutex<HashSet<String>>,
    /// Every call into the module holds this shared; `C_Finalize` holds it exclusively, as a
    /// module may free what another thread is using.
    pub(crate) gate: RwLock<()>,
    /// Set while the token cannot be used (see [`super::recovery`]).
    pub(crate) outage: Mutex<Option<Outage>>,
    /// The token refused the PIN while recovering: never try it again (it would lock).
    pub(crate) pin_refused: AtomicBool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
            known_keys: Mutex::new(HashSet::new()),
            gate: RwLock::new(()),
            outage: Mutex::new(None),
            pin_refused: AtomicBool::new(false),
        };
        let first = pool.checkout()?;
        pool.checkin(first);
        metrics::gauge!("tessera_hsm_up").set(1.0);
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
                drop(st);
                self.sessions_gauge();
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
                    Ok(s) => {
                        self.sessions_gauge();
                        Ok(s)
                    }
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
        drop(st);
        self.sessions_gauge();
    }

    fn wake(&self, st: &State) {
        if st.waiting > 0 {
            self.freed.notify_one();
        }
    }

    /// Forgets a broken or stale session without calling the module about it.
    pub(crate) fn discard(&self, s: PooledSession) {
        drop(s);
        self.forget_one();
    }

    fn forget_one(&self) {
        let mut st = lock(&self.state);
        st.open = st.open.saturating_sub(1);
        self.wake(&st);
        drop(st);
        self.sessions_gauge();
    }

    /// Closes every idle session of the current generation and forgets them (a fault that a
    /// new session may cure: the others are likely broken the same way).
    pub(crate) fn close_idle(&self) {
        let mut st = lock(&self.state);
        let current = self.generation.load(Ordering::SeqCst);
        let idle: Vec<PooledSession> = st.idle.drain(..).collect();
        st.open = st.open.saturating_sub(idle.len());
        self.wake(&st);
        drop(st);
        for s in idle {
            if s.conn.generation == current {
                let _ = s.session.close();
            }
        }
        self.sessions_gauge();
    }

    /// Closes a session of the current generation and forgets it.
    pub(crate) fn close(&self, s: PooledSession) {
        let PooledSession { session, conn } = s;
        if conn.generation == self.generation.load(Ordering::SeqCst) {
            let _ = session.close();
        }
        self.forget_one();
    }

    /// `C_Finalize`, and a new generation: every session and handle of the old one is
    /// abandoned, and the next checkout runs `C_Initialize` and finds the token again. The
    /// caller holds the exclusive gate, so no other thread is inside the module.
    pub(crate) fn reinitialize(&self) {
        let mut st = lock(&self.state);
        self.generation.fetch_add(1, Ordering::SeqCst);
        let stale = st.idle.len();
        st.idle.clear();
        st.open = st.open.saturating_sub(stale);
        if let Some(conn) = st.conn.take() {
            // Fails with CKR_CRYPTOKI_NOT_INITIALIZED when someone else finalised it already.
            if let Err(e) = conn.ctx.clone().finalize() {
                tracing::debug!(error = %e, "C_Finalize before re-initialising");
            }
        }
        lock(&self.keys).clear();
        self.freed.notify_all();
        drop(st);
        self.sessions_gauge();
    }

    /// Records the pool's use in the metrics.
    pub(crate) fn sessions_gauge(&self) {
        let st = lock(&self.state);
        metrics::gauge!("tessera_hsm_sessions_open").set(st.open as f64);
        metrics::gauge!("tessera_hsm_sessions_busy")
            .set(st.open.saturating_sub(st.idle.len()) as f64);
    }

    pub(crate) fn cached_key(&self, s: &PooledSession, id: &[u8]) -> Option<ObjectHandle> {
        match lock(&self.keys).get(id) {
            Some((generation, handle)) if *generation == s.conn.generation => Some(*handle),
            _ => None,
        }
    }

    pub(crate) fn cache_key(&self, s: &PooledSession, id: &[u8], handle: ObjectHandle) {
        lock(&self.keys).insert(id.to_vec(), (s.conn.generation, handle));
        lock(&self.known_keys).insert(super::hex(id));
    }

    pub(crate) fn forget_cached_keys(&self) {
        lock(&self.keys).clear();
    }

    pub(crate) fn forget_key(&self, id: &[u8]) {
        lock(&self.keys).remove(id);
        lock(&self.known_keys).remove(&super::hex(id));
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
