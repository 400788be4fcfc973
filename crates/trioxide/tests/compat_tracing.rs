//! The `tracing` feature end to end: with debug mode on, a capturing subscriber sees one
//! span per spawned task (name, id, spawn location), the task's own events inside it, a
//! slow-poll event inside the slow task's span, and a cancellation event.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use trioxide::runtime::{Flavor, Io, Runtime};

/// What the capturing layer saw.
#[derive(Default)]
struct Seen {
    /// Each span's name and fields (`key=value ...`), by id.
    spans: HashMap<u64, (String, String)>,
    /// Each event: (target, fields, the fields of the innermost span it was inside).
    events: Vec<(String, String, Option<String>)>,
}

struct Capture(Arc<Mutex<Seen>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        let name = attrs.metadata().name().to_string();
        self.0
            .lock()
            .unwrap()
            .spans
            .insert(id.into_u64(), (name, fields.0));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let mut seen = self.0.lock().unwrap();
        let span = ctx
            .event_span(event)
            .and_then(|span| seen.spans.get(&span.id().into_u64()))
            .map(|(_, fields)| fields.clone());
        let target = event.metadata().target().to_string();
        seen.events.push((target, fields.0, span));
    }
}

#[test]
fn tasks_get_spans_and_slow_polls_and_cancellations_get_events() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(2)
        .io(Io::Epoll)
        .debug(true)
        .slow_poll_threshold(Duration::from_millis(20))
        .debug_log(|_| {}) // the lines reach us as events; keep stderr quiet
        .build()
        .unwrap();
    rt.block_on(async {
        trioxide::task::Builder::new()
            .name("slowpoke")
            .spawn(async {
                tracing::info!(target: "app", "inside slowpoke");
                std::thread::sleep(Duration::from_millis(60)); // a poll that blocks
            })
            .await
            .unwrap();
        let victim = trioxide::task::Builder::new()
            .name("victim")
            .spawn(trioxide::time::sleep(Duration::from_secs(3600)));
        victim.cancel();
        assert!(victim.await.unwrap_err().is_cancelled());
    });
    drop(rt);

    let seen = seen.lock().unwrap();
    let span_of = |name: &str| {
        seen.spans
            .values()
            .find(|(span, fields)| span == "task" && fields.contains(&format!("task.name={name} ")))
            .map(|(_, fields)| fields.clone())
            .unwrap_or_else(|| panic!("no span for task {name}: {:?}", seen.spans))
    };
    let slowpoke = span_of("slowpoke");
    assert!(slowpoke.contains("task.id="), "{slowpoke}");
    assert!(
        slowpoke.contains("spawned_at=crates/trioxide/tests/compat_tracing.rs:")
            || slowpoke.contains("spawned_at=tests/compat_tracing.rs:"),
        "{slowpoke}"
    );
    let victim = span_of("victim");

    let find = |target: &str, text: &str| {
        seen.events
            .iter()
            .find(|(t, fields, _)| t == target && fields.contains(text))
            .unwrap_or_else(|| panic!("no {target} event with {text:?}: {:?}", seen.events))
    };
    let (_, _, inside) = find("app", "inside slowpoke");
    assert_eq!(
        inside.as_ref(),
        Some(&slowpoke),
        "the task's own event is in its span"
    );
    let (_, _, inside) = find("trioxide::debug", "slow poll");
    assert_eq!(
        inside.as_ref(),
        Some(&slowpoke),
        "the slow-poll event is in the task's span"
    );
    let (_, _, inside) = find("trioxide::task", "task cancelled");
    assert_eq!(
        inside.as_ref(),
        Some(&victim),
        "the cancellation event is in the victim's span"
    );
}
