//! Recovery after an unclean stop. A request caught `executing` (budget
//! reserved, provider call in flight) when the process died has no result
//! we can trust: it is failed with `interrupted` and its reservation
//! released, so no money stays held forever. `running` requests need
//! nothing: the reconciler picks them up.

use super::{GovernanceError, execute, trail};
use crate::model::{ReasonCode, RequestStatus};
use crate::platform::Platform;
use crate::store::Finish;

/// Releases every interrupted request; returns how many. Run before serving.
pub async fn recover(platform: &Platform) -> Result<usize, GovernanceError> {
    let mut recovered = 0;
    loop {
        let stuck = platform
            .stores
            .governance
            .requests_in(RequestStatus::Executing, 500)
            .await?;
        if stuck.is_empty() {
            return Ok(recovered);
        }
        for request in stuck {
            let message =
                "the server stopped while this request was executing; nothing was charged"
                    .to_owned();
            let finish = Finish::Failed {
                reason: ReasonCode::Interrupted,
                message,
            };
            execute::settle(platform, request, finish, trail::SYSTEM, None).await?;
            recovered += 1;
        }
    }
}
