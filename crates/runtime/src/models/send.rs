//! A send racing the receiver's exit is either delivered or handed back, never both, never
//! lost.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{drain, exit, model, process};
use crate::message::Message;
use crate::process::mailbox::Refusal;
use crate::ExitReason;

/// A message that counts how many times it was dropped.
struct Tracked {
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_send_racing_the_receivers_exit_is_delivered_or_handed_back_never_lost() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let receiver = process::<Tracked>(false);
        let sender = {
            let (receiver, drops) = (receiver.clone(), drops.clone());
            thread::spawn(move || {
                let mut handed_back = 0;
                for _ in 0..2 {
                    let msg = Tracked {
                        drops: drops.clone(),
                    };
                    if let Err((msg, refusal)) = receiver.send(msg, true) {
                        assert_eq!(refusal, Refusal::Closed);
                        // Handed back: the sender owns it again, so it cannot also be queued.
                        drop(msg);
                        handed_back += 1;
                    }
                }
                handed_back
            })
        };
        let received = drain(&receiver)
            .into_iter()
            .filter(|m| matches!(m, Message::User(_)))
            .count();
        exit(&receiver, ExitReason::Normal);
        let handed_back = sender.join().unwrap();

        // Nothing queued after the exit procedure closed the mailbox: a message accepted then
        // would be acknowledged to its sender and never received nor dropped.
        assert_eq!(receiver.mailbox.lock().len(), 0, "a message was lost");
        assert!(received + handed_back <= 2);
        drop(receiver);
        // Each message's value was dropped exactly once: received, discarded with the dead
        // mailbox, or handed back.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}
