//! Document signing (issue 12). This file declares only the TSA helper's modules; the lead
//! merges it with the organisation-credential modules.

pub mod ltv;
pub mod tsa;
