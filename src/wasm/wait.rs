//! Awaiting JS (a promise, an IndexedDB request or transaction) through one persistent callback.
//!
//! `wasm_bindgen_futures::JsFuture` makes two closures per promise and destroys both when it is
//! done: with its wake-up that is about five calls into the module per `await`, and a first visit
//! awaits some sixty things (each chunk of each download, each digest, each IndexedDB request). A
//! [`Wait`] instead takes a slot in a table and hands JS two bound copies of one closure that lives
//! as long as the module (`settle(slot, tag, value)`): one call in per settled wait, nothing to
//! destroy. A slot's generation, bumped when its `Wait` is dropped, makes a late callback (a
//! request that fires after its waiter gave up) a no-op.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

enum State {
    Waiting(Option<Waker>),
    /// Settled: fulfilled (`true`) or rejected, with the value.
    Done(bool, JsValue),
    /// The value was handed to the waiter.
    Taken,
}

#[derive(Default)]
struct Slots {
    /// `(generation, state)`; `None` for a free slot.
    slots: Vec<(u32, Option<State>)>,
    free: Vec<u32>,
}

/// Generations fit 31 bits: the tag a callback carries is `generation << 1 | fulfilled`.
const GENERATIONS: u32 = 0x7fff_ffff;

#[wasm_bindgen]
extern "C" {
    /// A promise, seen as something with a `then(ok, err)` taking plain functions.
    #[wasm_bindgen(extends = Promise)]
    type Thenable;
    #[wasm_bindgen(method)]
    fn then(this: &Thenable, ok: &Function, err: &Function) -> JsValue;
}

thread_local! {
    static SLOTS: RefCell<Slots> = RefCell::default();
    static SETTLE: Closure<dyn FnMut(u32, u32, JsValue)> = Closure::new(settle);
}

fn settle(slot: u32, tag: u32, value: JsValue) {
    let waker = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        let (generation, state) = s.slots.get_mut(slot as usize)?;
        if *generation != tag >> 1 {
            return None; // its waiter is gone
        }
        // The first settlement counts (an IndexedDB transaction fires `error`, then `abort`).
        let Some(State::Waiting(waker)) = state else { return None };
        let waker = waker.take();
        *state = Some(State::Done(tag & 1 == 1, value));
        waker
    });
    // Outside the borrow: waking only schedules the task, but nothing here relies on it.
    if let Some(w) = waker {
        w.wake();
    }
}

/// One pending wait: give JS [`Wait::ok`] and [`Wait::err`] as callbacks, then await it.
pub struct Wait {
    slot: u32,
    generation: u32,
    ok: Function,
    err: Function,
}

impl Default for Wait {
    fn default() -> Wait {
        Wait::new()
    }
}

impl Wait {
    pub fn new() -> Wait {
        let (slot, generation) = SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let slot = match s.free.pop() {
                Some(i) => i,
                None => {
                    s.slots.push((0, None));
                    (s.slots.len() - 1) as u32
                }
            };
            let entry = &mut s.slots[slot as usize];
            entry.1 = Some(State::Waiting(None));
            (slot, entry.0)
        });
        let settle: Function = SETTLE.with(|c| c.as_ref().unchecked_ref::<Function>().clone());
        let bound = |fulfilled: u32| {
            settle
                .bind2(&JsValue::NULL, &slot.into(), &(generation << 1 | fulfilled).into())
                .unchecked_into::<Function>()
        };
        Wait { slot, generation, ok: bound(1), err: bound(0) }
    }

    /// The callback that settles this wait as fulfilled, with its first argument.
    pub fn ok(&self) -> &Function {
        &self.ok
    }

    /// The callback that settles it as failed.
    pub fn err(&self) -> &Function {
        &self.err
    }
}

/// A promise's outcome (a rejection is handled from the start, even if the wait is never polled).
pub fn promise(p: &Promise) -> Wait {
    let w = Wait::new();
    let _ = p.unchecked_ref::<Thenable>().then(w.ok(), w.err());
    w
}

/// Any JS value as a promise's outcome (`Promise.resolve(v)`).
pub async fn value(v: JsValue) -> Result<JsValue, JsValue> {
    promise(&Promise::resolve(&v)).await
}

impl Future for Wait {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let state = &mut s.slots[self.slot as usize].1;
            match state.take() {
                Some(State::Done(fulfilled, v)) => {
                    *state = Some(State::Taken);
                    Poll::Ready(if fulfilled { Ok(v) } else { Err(v) })
                }
                Some(State::Waiting(_)) => {
                    *state = Some(State::Waiting(Some(cx.waker().clone())));
                    Poll::Pending
                }
                _ => panic!("a Wait polled after it completed"),
            }
        })
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let entry = &mut s.slots[self.slot as usize];
            entry.0 = (self.generation + 1) & GENERATIONS;
            entry.1 = None;
            s.free.push(self.slot);
        });
    }
}
