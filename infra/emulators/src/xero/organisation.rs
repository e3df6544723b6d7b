//! The organisation itself (`GET /Organisation`) and its chart of accounts (`GET /Accounts`,
//! read only: two bank accounts, `090` and `091`, which payments may use, plus sales `200`,
//! cost of goods sold `310` and advertising `400`).

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::Response;
use serde_json::json;

use super::Inner;
use super::auth::Caller;
use super::clock::ms_date_bare;
use super::errors::{error_response, not_found};
use super::routes::envelope;
use crate::common::{json_response, lock};

/// `GET /api.xro/2.0/Organisation`.
pub(super) async fn organisation(
    State(inner): State<Arc<Inner>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let org = {
        let st = lock(&inner.state);
        let Some(t) = st.tenant(&caller.tenant_id) else {
            return error_response(&not_found());
        };
        json!({
            "OrganisationID": t.config.tenant_id,
            "Name": t.config.name,
            "LegalName": t.config.name,
            "PaysTax": true,
            "Version": "NZ",
            "OrganisationType": "COMPANY",
            "BaseCurrency": t.config.base_currency,
            "CountryCode": "NZ",
            "IsDemoCompany": false,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": 3,
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "CreatedDateUTC": ms_date_bare(0),
            "OrganisationEntityType": "COMPANY",
            "Timezone": "NEWZEALANDSTANDARDTIME",
            "ShortCode": format!("!{}", &t.config.tenant_id.replace('-', "")[..5]),
            "Edition": "BUSINESS",
            "Class": "PREMIUM",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {},
        })
    };
    json_response(
        axum::http::StatusCode::OK,
        super::JSON,
        &envelope(&inner, "Organisations", vec![org], None),
    )
}

/// `GET /api.xro/2.0/Accounts`.
pub(super) async fn accounts(
    State(inner): State<Arc<Inner>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let accounts = {
        let st = lock(&inner.state);
        let Some(t) = st.tenant(&caller.tenant_id) else {
            return error_response(&not_found());
        };
        t.accounts.clone()
    };
    json_response(
        axum::http::StatusCode::OK,
        super::JSON,
        &envelope(&inner, "Accounts", accounts, None),
    )
}
