//! cargo fuzz target `ascii_maps`: the input goes through `bevy_bfn::train::fuzzing::ascii_maps`, which `tests/robustness.rs` runs
//! the regression corpus through too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = bevy_bfn::train::fuzzing::ascii_maps(data);
});
