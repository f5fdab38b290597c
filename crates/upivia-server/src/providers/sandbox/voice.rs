//! Sandbox `voice_call.create`, the asynchronous operation: `execute` starts
//! a call and charges its first minute; `poll` reports it pending until
//! `voice_call_delay` has passed, then completed with a duration derived
//! from the length of `say`, settled per started minute. The sandbox
//! compresses time: `ended_at` is when the poll saw the call finish, so it
//! is never in the future, even though `duration_seconds` may exceed the
//! delay.

use serde_json::json;
use time::OffsetDateTime;

use super::messaging::endpoints;
use super::{Ctx, Input, MARKER_CALL_FAILS, call_units, unit_price};
use crate::catalog::OperationSpec;
use crate::catalog::builtin::MAX_CALL_SECONDS;
use crate::money::Cents;
use crate::providers::{Execution, PollStatus, ProviderError};

/// Speaking rate of text-to-speech voices, roughly.
const WORDS_PER_MINUTE: u64 = 150;
const MIN_CALL_SECONDS: u64 = 30;

struct CallRequest<'a> {
    to: &'a str,
    from: &'a str,
    say: &'a str,
    max_duration: u64,
}

fn parse<'a>(input: &Input<'a>) -> Result<CallRequest<'a>, ProviderError> {
    let (to, from) = endpoints(input)?;
    let say = input.text("say", 1, 4000)?;
    let max_duration = input
        .opt_int("max_duration_seconds", MIN_CALL_SECONDS, MAX_CALL_SECONDS)?
        .unwrap_or(MAX_CALL_SECONDS);
    Ok(CallRequest {
        to,
        from,
        say,
        max_duration,
    })
}

/// How long the call lasts: ringing, then `say` read aloud, then hang-up,
/// cut at `max_duration` like Twilio's `timeLimit`.
fn duration_seconds(call: &CallRequest<'_>, seed: u64) -> u64 {
    let words = call.say.split_whitespace().count() as u64;
    let speech = (words * 60).div_ceil(WORDS_PER_MINUTE);
    let ringing = 4 + seed % 15;
    (ringing + speech + 1).min(call.max_duration)
}

/// The longest the call may last, so the hold covers any real duration.
pub(super) fn estimate(op: &OperationSpec, input: &Input<'_>) -> Cents {
    let max = parse(input).map_or(MAX_CALL_SECONDS, |call| call.max_duration);
    unit_price(op, call_units(max))
}

pub(super) fn create(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    parse(input)?;
    Ok(Execution::Started {
        external_id: ctx.id("call"),
        initial_cost: unit_price(ctx.op, 1),
    })
}

pub(super) fn poll(
    ctx: &Ctx<'_>,
    input: &Input<'_>,
    external_id: &str,
    started_at: OffsetDateTime,
) -> Result<PollStatus, ProviderError> {
    let call_id = ctx.id("call");
    if external_id != call_id {
        return Err(ctx.invalid(format_args!(
            "no call {external_id:?} for this request (expected {call_id})"
        )));
    }
    let call = parse(input)?;
    let due = time::Duration::try_from(ctx.config.voice_call_delay)
        .ok()
        .and_then(|delay| started_at.checked_add(delay));
    // A delay too large to represent means the call never finishes.
    if due.is_none_or(|due| ctx.now < due) {
        return Ok(PollStatus::Pending);
    }
    if call.say.contains(MARKER_CALL_FAILS) {
        return Ok(PollStatus::Failed(ProviderError::Unavailable(format!(
            "{}: the call to {} failed: carrier unavailable (sandbox magic value `{MARKER_CALL_FAILS}`)",
            ctx.full_name, call.to
        ))));
    }
    let duration = duration_seconds(&call, ctx.seed("duration"));
    Ok(PollStatus::Completed {
        result: json!({
            "call_id": call_id,
            "status": "completed",
            "duration_seconds": duration,
            "to": call.to,
            "from": call.from,
            "ended_at": ctx.timestamp()?,
            "sandbox": true,
        }),
        actual_cost: unit_price(ctx.op, call_units(duration)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};
    use time::macros::datetime;

    use crate::providers::sandbox::tests::{estimate, now, poll_at, run};
    use crate::providers::sandbox::{MARKER_CALL_FAILS, Sandbox, SandboxConfig};
    use crate::providers::{Execution, PollStatus, ProviderError};

    fn call(say: &str) -> Value {
        json!({"to": "+15555550123", "from": "+15555550100", "say": say})
    }

    async fn start(payload: &Value) -> String {
        match run("voice_call", "create", payload.clone()).await {
            Ok(Execution::Started {
                external_id,
                initial_cost,
            }) => {
                assert_eq!(initial_cost.get(), 5, "the first minute");
                external_id
            }
            other => panic!("expected Started, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn pending_until_the_delay_then_completed() {
        let payload = call("The checkout service is down.");
        let id = start(&payload).await;
        assert!(id.starts_with("call_") && id.len() == 21, "{id}");
        let sandbox = Sandbox::default();
        let started = now();
        for seconds in [0, 1] {
            let at = started + time::Duration::seconds(seconds);
            let status = poll_at(&sandbox, &payload, &id, started, at).await.unwrap();
            assert_eq!(status, PollStatus::Pending, "{seconds}s after start");
        }
        let at = started + time::Duration::seconds(2);
        match poll_at(&sandbox, &payload, &id, started, at).await.unwrap() {
            PollStatus::Completed {
                result,
                actual_cost,
            } => {
                assert_eq!(result["status"], "completed");
                assert_eq!(result["call_id"], id.as_str());
                assert_eq!(result["ended_at"], "2026-03-01T12:00:02Z");
                let seconds = result["duration_seconds"].as_u64().unwrap();
                // 5 words at 150 a minute: 2 s of speech, 4-18 s of ringing, 1 s hang-up.
                assert!((7..=21).contains(&seconds), "{seconds}");
                assert_eq!(actual_cost.get(), 5);
            }
            other => panic!("expected Completed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn delay_is_configurable() {
        let payload = call("hello");
        let id = start(&payload).await;
        let sandbox = Sandbox::new(SandboxConfig {
            voice_call_delay: Duration::from_secs(60),
            ..SandboxConfig::default()
        });
        let started = now();
        let early = poll_at(
            &sandbox,
            &payload,
            &id,
            started,
            started + time::Duration::seconds(59),
        )
        .await;
        assert_eq!(early, Ok(PollStatus::Pending));
        let late = poll_at(
            &sandbox,
            &payload,
            &id,
            started,
            started + time::Duration::seconds(60),
        )
        .await;
        assert!(matches!(late, Ok(PollStatus::Completed { .. })), "{late:?}");
        let never = Sandbox::new(SandboxConfig {
            voice_call_delay: Duration::MAX,
            ..SandboxConfig::default()
        });
        let far = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(
            poll_at(&never, &payload, &id, started, far).await,
            Ok(PollStatus::Pending)
        );
    }

    #[tokio::test]
    async fn estimate_bounds_settlement_for_any_length() {
        let sandbox = Sandbox::default();
        let started = now();
        let at = started + time::Duration::seconds(5);
        // `say` holds at most 4000 characters: about 800 five-letter words.
        for words in [1usize, 10, 100, 149, 150, 151, 400, 799] {
            for max in [
                None,
                Some(30),
                Some(59),
                Some(60),
                Some(61),
                Some(300),
                Some(600),
            ] {
                let mut payload = call(&vec!["word"; words].join(" "));
                if let Some(max) = max {
                    payload["max_duration_seconds"] = json!(max);
                }
                let estimated = estimate("voice_call", "create", &payload);
                let id = start(&payload).await;
                match poll_at(&sandbox, &payload, &id, started, at).await {
                    Ok(PollStatus::Completed {
                        result,
                        actual_cost,
                    }) => {
                        assert!(
                            actual_cost <= estimated,
                            "{actual_cost} > {estimated} ({words} words, max {max:?})"
                        );
                        assert!(actual_cost.get() >= 5);
                        let seconds = result["duration_seconds"].as_u64().unwrap();
                        assert!(seconds <= max.unwrap_or(600));
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        // The default hold is ten minutes at 5 cents a minute.
        assert_eq!(estimate("voice_call", "create", &call("hi")).get(), 50);
        let short = json!({"to": "+15555550123", "from": "+15555550100", "say": "hi", "max_duration_seconds": 90});
        assert_eq!(estimate("voice_call", "create", &short).get(), 10);
    }

    #[tokio::test]
    async fn call_fails_marker_fails_the_poll_not_the_start() {
        let payload = call(&format!("Test {MARKER_CALL_FAILS} please"));
        let id = start(&payload).await;
        let sandbox = Sandbox::default();
        let started = now();
        assert_eq!(
            poll_at(&sandbox, &payload, &id, started, started).await,
            Ok(PollStatus::Pending)
        );
        let due = started + time::Duration::seconds(2);
        match poll_at(&sandbox, &payload, &id, started, due).await {
            Ok(PollStatus::Failed(ProviderError::Unavailable(message))) => {
                assert!(message.contains(MARKER_CALL_FAILS), "{message}")
            }
            other => panic!("expected Failed(Unavailable), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn poll_rejects_unknown_calls_and_bad_payloads() {
        let payload = call("hello");
        let sandbox = Sandbox::default();
        let at = now() + time::Duration::seconds(10);
        let unknown = poll_at(&sandbox, &payload, "call_0000000000000000", now(), at).await;
        assert!(
            matches!(unknown, Err(ProviderError::Adapter(_))),
            "{unknown:?}"
        );
        for bad in [
            json!({"to": "+15555550123", "from": "+15555550123", "say": "hi"}),
            json!({"to": "+15555550123", "from": "+15555550100", "say": ""}),
            json!({"to": "+15555550123", "from": "+15555550100", "say": "hi", "max_duration_seconds": 601}),
            json!({"to": "+15555550123", "from": "+15555550100", "say": "hi", "max_duration_seconds": 29}),
        ] {
            let outcome = run("voice_call", "create", bad.clone()).await;
            assert!(
                matches!(outcome, Err(ProviderError::Adapter(_))),
                "{bad}: {outcome:?}"
            );
        }
    }
}
