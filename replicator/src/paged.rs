//! Catch-up in bounded pages, beside `getAll...`: a replicator's whole
//! state can be larger than `Ice.MessageSizeMax` (1 MiB by default), which
//! no single `getAllStateItems` reply may exceed. So each replicator also
//! serves facet [`FACET`] of its identity with one operation,
//! [`OPERATION`], which would read in Slice
//!
//! ```text
//! idempotent ItemSeq getStateItemsPage(long after, int max, out long next);
//! ```
//!
//! (`ItemSeq` being the component's item sequence): at most `max` items in
//! the order they were first set, from the position after `after` (-1: from
//! the first), and the position to ask from next (-1: none left). The
//! servant shrinks a page until its encoding stays within [`PAGE_BYTES`].
//! The component's own Slice is unchanged: `getAllStateItems` is still
//! served as before, and ZeroC peers that know nothing of pages use it.
//!
//! A member reads the state through [`fetch_all`], which falls back to
//! `getAll...` when the replicator has no such facet (a ZeroC replicator).
//! Reading page by page is not one atomic snapshot; it needs none where
//! members use it: a joining standby registers its listener before the
//! first page and replays the pushes received meanwhile over the pages,
//! and a member activating has stopped listening and reads a replicator
//! that no other active member changes.

use std::sync::Arc;

use ice_proto::adapter::{Current, DispatchError, DispatchResult, Servant};
use ice_proto::codegen::{Decode, Encode, Format, Registry};
use ice_proto::connection::BoxFuture;
use ice_proto::protocol::{Encapsulation, OperationMode};
use ice_proto::proxy::{ObjectPrx, Outcome};
use ice_proto::RuntimeError;

use crate::member::{FetchAll, ReplicatorError};
use crate::state::{Keyed, StateReplicator};

/// The facet of a replicator's identity that serves pages.
pub const FACET: &str = "paged";

/// The operation that returns one page.
pub const OPERATION: &str = "getStateItemsPage";

/// The most bytes of items one page holds (well below the default
/// `Ice.MessageSizeMax` of 1 MiB).
pub const PAGE_BYTES: usize = 512 * 1024;

/// The most items a member asks for in one page.
pub const PAGE_ITEMS: i32 = 4096;

/// The type id the servant reports.
const TYPE_ID: &str = "::AsteriskSCF::System::StateReplication::V1::PagedStateReplicator";

/// The page servant of a replicator, over its core.
pub struct PageServant<I: Keyed, S> {
    core: StateReplicator<I>,
    to_seq: fn(&[I]) -> S,
}

impl<I: Keyed, S> std::fmt::Debug for PageServant<I, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageServant")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

impl<I: Keyed, S> PageServant<I, S> {
    /// A servant reading `core`, writing items with the glue's `to_seq`.
    #[must_use]
    pub fn new(core: StateReplicator<I>, to_seq: fn(&[I]) -> S) -> Self {
        Self { core, to_seq }
    }
}

impl<I: Keyed, S: Encode + Send + Sync + 'static> PageServant<I, S> {
    fn page(&self, current: &Current, params: &Encapsulation) -> DispatchResult {
        let mut input = Current::params_stream(params)?;
        let after: i64 = input.read()?;
        let max: i32 = input.read()?;
        input.end_encapsulation()?;
        let after = u64::try_from(after).ok();
        let mut max = usize::try_from(max).unwrap_or(1).clamp(1, 1 << 20);
        loop {
            let (items, next) = self.core.page(after, max);
            let next = next.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1);
            let results =
                ice_proto::adapter::encapsulate(current.encoding, Format::Sliced, |out| {
                    out.write(&next);
                    out.write(&(self.to_seq)(&items));
                    out.write_pending_classes();
                });
            if results.body.len() <= PAGE_BYTES || items.len() <= 1 {
                return Ok(results);
            }
            max = items.len() / 2;
        }
    }
}

impl<I: Keyed, S: Encode + Send + Sync + 'static> Servant for PageServant<I, S> {
    fn type_ids(&self) -> &[&str] {
        &[TYPE_ID]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            if current.operation == OPERATION {
                self.page(current, &params)
            } else {
                Err(DispatchError::OperationNotExist)
            }
        })
    }
}

/// The page facet of `replicator`'s servant, ready for an adapter's
/// `add_facet` beside it.
#[must_use]
pub fn servant<I: Keyed, S: Encode + Send + Sync + 'static>(
    core: StateReplicator<I>,
    to_seq: fn(&[I]) -> S,
) -> Arc<dyn Servant> {
    Arc::new(PageServant::new(core, to_seq))
}

fn error(e: impl std::fmt::Display) -> ReplicatorError {
    ReplicatorError {
        operation: OPERATION,
        reason: e.to_string(),
    }
}

/// Every item of the replicator at `replicator`, read page by page, or
/// `None` when it serves no pages (then use `getAll...`).
///
/// # Errors
/// When a page cannot be read or decoded.
pub async fn fetch_all<I: Keyed, S: Decode>(
    replicator: &ObjectPrx,
    from_seq: fn(S) -> Vec<I>,
    registry: Arc<Registry>,
) -> Result<Option<Vec<I>>, ReplicatorError> {
    let prx = replicator.clone().ice_facet(FACET);
    let mut all = Vec::new();
    let mut after: i64 = -1;
    loop {
        let params = prx.params(|out| {
            out.write(&after);
            out.write(&PAGE_ITEMS);
        });
        let results = match prx
            .ice_invoke(OPERATION, OperationMode::Idempotent, params, None)
            .await
        {
            Ok(Outcome::Ok(results)) => results,
            Ok(Outcome::UserException(_)) => {
                return Err(error("unexpected user exception"));
            }
            Err(RuntimeError::FacetNotExist(_) | RuntimeError::OperationNotExist(_))
                if all.is_empty() =>
            {
                return Ok(None);
            }
            Err(e) => return Err(error(e)),
        };
        let mut input = prx
            .results_input(&results, Arc::clone(&registry))
            .map_err(error)?;
        let next: i64 = input.read().map_err(error)?;
        let seq: S = input.read().map_err(error)?;
        input.read_pending_classes().map_err(error)?;
        input.end_encapsulation().map_err(error)?;
        all.extend(from_seq(seq));
        if next < 0 {
            return Ok(Some(all));
        }
        if next <= after {
            return Err(error(format!(
                "the replicator answered position {next} after {after}"
            )));
        }
        after = next;
    }
}

/// A member's [`FetchAll`] reading `replicator` page by page (see
/// [`crate::Member::set_fetch_all`]).
#[must_use]
pub fn fetcher<I: Keyed, S: Decode + 'static>(
    replicator: ObjectPrx,
    from_seq: fn(S) -> Vec<I>,
    registry: Arc<Registry>,
) -> FetchAll<I> {
    Arc::new(move || {
        let replicator = replicator.clone();
        let registry = Arc::clone(&registry);
        Box::pin(async move { fetch_all(&replicator, from_seq, registry).await })
    })
}
