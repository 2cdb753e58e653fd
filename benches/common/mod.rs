//! What the sweeping and compaction benches share.

use isogc::*;

/// A global array of `chunks` old arrays of `chunk_len` slots each: the
/// holders of a large synthetic old generation. Each chunk is a large
/// object, promoted by the scavenge it survives (one more young large object
/// than new space holds would ask for a major GC instead).
pub fn chunk_root(isolate: &mut Isolate, chunks: usize, chunk_len: usize) -> Global<FixedArray> {
    let mut scope = HandleScope::new(isolate);
    let root = scope.new_fixed_array(chunks).unwrap();
    for c in 0..chunks {
        let chunk = scope.new_fixed_array(chunk_len).unwrap();
        scope.set(root, c, chunk);
        scope.collect_garbage(GcRequest::Minor);
    }
    scope.global(root)
}
