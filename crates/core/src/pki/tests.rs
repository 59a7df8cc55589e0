//! Tests of the certificate functions against a provider on an in-memory database.
