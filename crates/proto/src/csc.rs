//! Wire types of the Cloud Signature Consortium API (CSC API v2) for remote document signing.
//! Empty until document signing lands: its request and answer bodies belong here.
