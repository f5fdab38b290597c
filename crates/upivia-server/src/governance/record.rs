//! Answering a submission that ends before execution: blocked, parked for
//! approval, or replayed. Each of those needs the same two things beside
//! the request (the idempotency claim it is recorded under, whose
//! fingerprint a replay is checked against, and the actor the audit names),
//! so they travel together in a [`Recorder`] built once per submission.

use super::pipeline::Answer;
use super::{GovernanceError, idempotency, outcome, trail};
use crate::model::{ReasonCode, RequestStatus, ServiceRequest};
use crate::platform::Platform;
use crate::store::{Disposition, IdempotencyClaim, IdempotencyRecord, OpenRequest, Opened};

pub(super) struct Recorder<'p> {
    pub(super) platform: &'p Platform,
    /// `None` when the submission carried no idempotency key.
    pub(super) claim: Option<IdempotencyClaim>,
    pub(super) actor: String,
}

impl Recorder<'_> {
    /// The stored answer of an earlier use of the key, or a conflict.
    pub(super) fn replay(&self, existing: IdempotencyRecord) -> Result<Answer, GovernanceError> {
        // The store only finds an earlier use of a key this submission
        // claims; without a claim nothing can match.
        let fingerprint = self.claim.as_ref().map_or("", |c| c.fingerprint.as_str());
        idempotency::replay(existing, fingerprint).map(Answer::replay)
    }

    /// Records `request` as blocked for `reason` and answers it.
    pub(super) async fn block(
        &self,
        mut request: ServiceRequest,
        reason: ReasonCode,
        message: String,
    ) -> Result<Answer, GovernanceError> {
        request.status = RequestStatus::Blocked;
        request.reason_code = Some(reason);
        request.message = Some(message);
        self.record_final(request).await
    }

    /// Records a request decided in one step (blocked, or the free budget
    /// check) with its audit entry, and answers it; a key used meanwhile
    /// replays instead.
    pub(super) async fn record_final(
        &self,
        request: ServiceRequest,
    ) -> Result<Answer, GovernanceError> {
        let response = outcome::response(&request);
        let opened = self
            .platform
            .stores
            .governance
            .open_request(OpenRequest {
                audit: Some(trail::decision(&request, &self.actor)),
                request: request.clone(),
                idempotency: self.claim.clone(),
                disposition: Disposition::Final {
                    response: response.clone(),
                },
            })
            .await?;
        match opened {
            Opened::Existing(existing) => self.replay(existing),
            _ => {
                outcome::decided(self.platform, &request);
                Ok(Answer::fresh(response))
            }
        }
    }
}
