//! Delete: `DELETE /crm/block-visitor?id={block record id}` (unblock).
