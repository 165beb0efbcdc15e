//! RFC 8183 out-of-band setup: publisher requests and repository responses,
//! child requests and parent responses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::rfc8183::{ChildRequest, ParentResponse, PublisherRequest, RepositoryResponse};

fuzz_target!(|data: &[u8]| {
    let _ = PublisherRequest::decode(data);
    let _ = RepositoryResponse::decode(data);
    let _ = ChildRequest::decode(data);
    let _ = ParentResponse::decode(data);
});
