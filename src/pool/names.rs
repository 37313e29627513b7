//! Gateway names that never change meaning (ARCHITECTURE.md, invariant 8):
//! the pool's two [`NameBook`]s (tools, prompts) and where it keeps them.
//!
//! The naming itself is pure ([`crate::core::names`]). Keeping the books
//! across restarts is not the pool's business: whoever starts the pool hands
//! it the names kept so far and a [`NameLedger`] to keep new ones with
//! ([`McpPool::start_remembering`](super::McpPool::start_remembering)); the
//! runtime's ledger writes them through the store's commit path. So the pool
//! does not import the store; it sits beside it.
//!
//! The order of things, in the pool's actor:
//!
//! 1. **At start** the books are read from the names kept, and every server
//!    no longer in the server file is forgotten (its names are removed from
//!    the ledger): a server that leaves the configuration frees its names. A
//!    server whose entry is invalid is still in the file and keeps its names.
//! 2. **After a list change** the newcomers are named
//!    ([`NameBook::plan`]) and, when there are any, saved through the ledger
//!    **before** the catalog shows them (the actor waits: a name a client
//!    has seen is one the board remembers). A save that fails leaves the
//!    newcomers unnamed and unoffered (logged); the next list change tries
//!    again. Names already kept are never held back.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::core::names::{NameBook, Named};
use crate::model::{GatewayKind, GatewayName};

/// Why gateway names could not be kept (the ledger's own reason, e.g. the
/// store refusing writes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gateway names not saved: {0}")]
pub struct NamesNotSaved(pub String);

/// Names to keep and names to forget, in one durable step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameChange {
    /// Names handed out for the first time.
    pub put: Vec<GatewayName>,
    /// Names whose server left the server file (or that conflicted with an
    /// earlier kept name).
    pub remove: Vec<GatewayName>,
}

impl NameChange {
    /// Nothing to keep or forget.
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.remove.is_empty()
    }
}

/// Where the pool keeps the gateway names it hands out, so that each keeps
/// its meaning for the life of the board: across restarts of a server, of
/// the pool and of baton. The runtime's ledger writes through the store
/// (the `g/` key space); on PostgreSQL only the leader runs a pool, and a
/// deposed leader's store refuses the write.
pub trait NameLedger: Send + Sync + 'static {
    /// Keep `change` (removals first, then the new names); resolve once it
    /// is durable.
    ///
    /// Errors: [`NamesNotSaved`] when it was not written (or its outcome is
    /// unknown); the pool then offers none of the new names.
    fn save(&self, change: NameChange) -> BoxFuture<'static, Result<(), NamesNotSaved>>;
}

/// What a pool that keeps its names starts with: the names kept so far (as
/// read from the store) and the ledger to keep new ones with.
#[derive(Clone)]
pub struct RememberedNames {
    /// Every gateway name kept so far, tools and prompts.
    pub names: Vec<GatewayName>,
    /// Where to keep new names and forget old ones.
    pub ledger: Arc<dyn NameLedger>,
}

impl std::fmt::Debug for RememberedNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RememberedNames")
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

/// The pool's books, one per catalog, and its ledger (none: the names live
/// as long as the pool).
pub(super) struct Names {
    tools: NameBook,
    prompts: NameBook,
    ledger: Option<Arc<dyn NameLedger>>,
}

impl Names {
    /// The books of `remembered` (empty ones without), with every server for
    /// which `configured` is false forgotten; returns them and the names to
    /// forget in the ledger (those servers' names, and kept names that
    /// conflict with an earlier one).
    pub(super) fn start(
        remembered: Option<RememberedNames>,
        configured: impl Fn(&str) -> bool,
    ) -> (Self, Vec<GatewayName>) {
        let Some(RememberedNames { names, ledger }) = remembered else {
            let books = Names {
                tools: NameBook::default(),
                prompts: NameBook::default(),
                ledger: None,
            };
            return (books, Vec::new());
        };
        let mut forget = Vec::new();
        let mut book = |kind: GatewayKind| {
            let kept = names.iter().filter(|n| n.kind == kind).map(|n| Named {
                name: n.name.clone(),
                server: n.server.clone(),
                item: n.target.clone(),
            });
            let (mut book, refused) = NameBook::restore(kept);
            for n in &refused {
                tracing::warn!(kind = kind.as_str(), name = %n.name, server = %n.server, target = %n.item,
                    "kept gateway name conflicts with an earlier one; forgotten");
            }
            let gone = book.forget_servers(&configured);
            forget.extend(refused.into_iter().chain(gone).map(|n| record(kind, n)));
            book
        };
        let tools = book(GatewayKind::Tool);
        let prompts = book(GatewayKind::Prompt);
        let books = Names {
            tools,
            prompts,
            ledger: Some(ledger),
        };
        (books, forget)
    }

    /// The book of one catalog.
    pub(super) fn book(&self, kind: GatewayKind) -> &NameBook {
        match kind {
            GatewayKind::Tool => &self.tools,
            GatewayKind::Prompt => &self.prompts,
        }
    }

    /// The book of one catalog, to record names in.
    pub(super) fn book_mut(&mut self, kind: GatewayKind) -> &mut NameBook {
        match kind {
            GatewayKind::Tool => &mut self.tools,
            GatewayKind::Prompt => &mut self.prompts,
        }
    }

    /// Where names are kept; `None` when they live as long as the pool.
    pub(super) fn ledger(&self) -> Option<Arc<dyn NameLedger>> {
        self.ledger.clone()
    }
}

/// `n` of the `kind` catalog as the ledger keeps it.
pub(super) fn record(kind: GatewayKind, n: Named) -> GatewayName {
    GatewayName {
        kind,
        name: n.name,
        server: n.server,
        target: n.item,
    }
}
