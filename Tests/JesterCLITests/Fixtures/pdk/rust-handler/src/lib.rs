//! A handler in Rust over pdk/rust, for Tests/JesterCLITests/PDKBuildTests.swift. It answers
//! like the C handler fixtures:
//!
//! - `""`: an error, "empty input: pass --input NAME"
//! - `"probe"`: what the host gave it, `wall=ok|CODE monotonic=ok|CODE random=HEX|CODE keys=N init=N`
//! - `"panic"`: panics (the call fails; the message is logged)
//! - `NAME`: `GREETING, NAME!` (greeting from config, default "Hello"), logging `greeting NAME`

use jester_pdk::{clock, config, random, ErrorCode, HealthStatus};
use std::cell::Cell;

thread_local! {
    static INIT_CALLS: Cell<u32> = Cell::new(0);
}

fn init() -> Result<(), String> {
    INIT_CALLS.with(|calls| calls.set(calls.get() + 1));
    Ok(())
}

fn health() -> HealthStatus {
    HealthStatus::Healthy
}

fn probe() -> String {
    let wall = match clock::wall_now() {
        Ok(since_epoch) if since_epoch.as_secs() > 1_577_836_800 => "ok".to_string(),
        Ok(_) => "implausible".to_string(),
        Err(error) => error.to_string(),
    };
    let monotonic = match (clock::monotonic_now(), clock::monotonic_now()) {
        (Ok(first), Ok(second)) if second >= first => "ok".to_string(),
        (Ok(_), Ok(_)) => "backwards".to_string(),
        (Err(error), _) | (_, Err(error)) => error.to_string(),
    };
    let random = match random::bytes(16) {
        Ok(bytes) => bytes.iter().map(|byte| format!("{:02x}", byte)).collect::<String>(),
        Err(error) => error.to_string(),
    };
    let init_calls = INIT_CALLS.with(|calls| calls.get());
    format!(
        "wall={} monotonic={} random={} keys={} init={}",
        wall,
        monotonic,
        random,
        config::keys().len(),
        init_calls
    )
}

fn handle(input: Vec<u8>) -> Result<String, String> {
    match input.as_slice() {
        b"" => Err("empty input: pass --input NAME".to_string()),
        b"probe" => Ok(probe()),
        b"panic" => panic!("asked to panic"),
        _ => {
            let name = String::from_utf8_lossy(&input);
            jester_pdk::info!("greeting {}", name);
            let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_string());
            Ok(format!("{}, {}!", greeting, name))
        }
    }
}

// An error code is a std error, so `?` works in functions returning Box<dyn Error>.
#[allow(dead_code)]
fn wall_seconds() -> Result<u64, Box<dyn std::error::Error>> {
    let now = clock::wall_now()?;
    if now.as_secs() == 0 {
        return Err(Box::new(ErrorCode::Internal));
    }
    Ok(now.as_secs())
}

jester_pdk::handler!(handle);
jester_pdk::lifecycle!(init = init, health = health);
