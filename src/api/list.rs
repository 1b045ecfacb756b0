//! List: `GET /crm/block-visitor?offset=&limit=`, one page of block records.
