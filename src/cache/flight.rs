//! Coalescing: identical auth requests in flight at the same time share one call. The first
//! check to miss leads (it makes the call on its own worker thread, where its HTTP client
//! lives); the others, on any thread, wait for the leader's outcome on a `watch` channel.
//!
//! A flight belongs to one purge generation: a check that arrives after a purge never joins a
//! call that started before it. A leader that goes away without an outcome (its check was
//! dropped) closes the channel, and its waiters call for themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

use super::key::CacheKey;

/// The calls in flight of one step's cache, by key.
pub struct Flights<V> {
    map: Mutex<HashMap<CacheKey, Flight<V>>>,
    ids: AtomicU64,
}

struct Flight<V> {
    id: u64,
    generation: u64,
    outcome: watch::Receiver<Option<V>>,
}

/// What a check that missed does.
pub enum Role<'a, V> {
    /// The answer was found after all (stored by a leader that just finished).
    Found(V),
    /// Make the call, then [`Leader::finish`].
    Lead(Leader<'a, V>),
    /// Wait for the leader's outcome.
    Follow(watch::Receiver<Option<V>>),
}

/// The check making the call for a key; its waiters are released when it finishes or drops.
pub struct Leader<'a, V> {
    flights: &'a Flights<V>,
    key: CacheKey,
    id: u64,
    outcome: watch::Sender<Option<V>>,
}

impl<V: Clone> Default for Flights<V> {
    fn default() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(0),
        }
    }
}

impl<V: Clone> Flights<V> {
    /// The role of a check that missed `key` in purge generation `generation`; `recheck`
    /// looks the key up again while no flight can end (a leader stores its answer before it
    /// leaves the map), so that a check arriving just after a call never repeats it.
    pub fn join(
        &self,
        key: CacheKey,
        generation: u64,
        recheck: impl FnOnce() -> Option<V>,
    ) -> Role<'_, V> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = map.get(&key) {
            if flight.generation == generation {
                return Role::Follow(flight.outcome.clone());
            }
        }
        if let Some(found) = recheck() {
            return Role::Found(found);
        }
        let (outcome, waiters) = watch::channel(None);
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let flight = Flight {
            id,
            generation,
            outcome: waiters,
        };
        // an older generation's flight, if any, goes on for its own waiters only
        map.insert(key, flight);
        Role::Lead(Leader {
            flights: self,
            key,
            id,
            outcome,
        })
    }

    /// Calls in flight now.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

impl<V> Leader<'_, V> {
    /// Hands `outcome` to every waiter and ends the flight (after the answer was stored).
    pub fn finish(self, outcome: V) {
        self.outcome.send_replace(Some(outcome));
    }
}

impl<V> Drop for Leader<'_, V> {
    fn drop(&mut self) {
        let mut map = self
            .flights
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.key).is_some_and(|f| f.id == self.id) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::key::KeyPrefix;

    fn key(token: &'static str) -> CacheKey {
        use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
        let h: Vec<(HeaderName, HeaderValue)> =
            vec![(AUTHORIZATION, HeaderValue::from_static(token))];
        KeyPrefix::new("h", 0, "POST", "http://a/").key(&h, b"")
    }

    #[test]
    fn followers_share_the_leaders_outcome_and_the_flight_ends() {
        let flights = Flights::<u32>::default();
        let Role::Lead(leader) = flights.join(key("a"), 0, || None) else {
            panic!("the first miss leads")
        };
        let Role::Follow(mut rx) = flights.join(key("a"), 0, || None) else {
            panic!("an identical miss follows")
        };
        assert!(matches!(flights.join(key("b"), 0, || None), Role::Lead(_)));
        leader.finish(7);
        assert_eq!(*rx.borrow_and_update(), Some(7));
        assert_eq!(
            flights.in_flight(),
            0,
            "finished and dropped flights leave the map"
        );
        assert!(matches!(
            flights.join(key("a"), 0, || Some(7)),
            Role::Found(7)
        ));
    }

    #[test]
    fn a_purge_starts_a_new_flight_and_the_old_leader_leaves_it_alone() {
        let flights = Flights::<u32>::default();
        let Role::Lead(old) = flights.join(key("a"), 0, || None) else {
            panic!()
        };
        let Role::Lead(new) = flights.join(key("a"), 1, || None) else {
            panic!("no joining a flight of an earlier generation")
        };
        drop(old);
        assert!(
            matches!(flights.join(key("a"), 1, || None), Role::Follow(_)),
            "the new flight is still there"
        );
        drop(new);
        assert_eq!(flights.in_flight(), 0);
    }

    #[test]
    fn a_dropped_leader_closes_the_channel() {
        let flights = Flights::<u32>::default();
        let Role::Lead(leader) = flights.join(key("a"), 0, || None) else {
            panic!()
        };
        let Role::Follow(rx) = flights.join(key("a"), 0, || None) else {
            panic!()
        };
        drop(leader);
        assert!(rx.has_changed().is_err(), "closed: the waiter calls itself");
    }
}
