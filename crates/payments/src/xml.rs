//! ISO 20022 files: pain.001.001.09 (credit transfer initiation) written and read, and
//! pain.002.001.12 (payment status report) written and read.
//!
//! Writing streams through `quick_xml::Writer`; reading streams through `quick_xml::Reader`
//! with a stack of element names, so a file of 100,000 transfers is never held as a tree.
//! Readers refuse, with the element and the rule, anything that is not the message they
//! expect: another root or namespace, a DOCTYPE, a missing mandatory element, counts or sums
//! that disagree, amounts that are not whole fen, currencies other than CNY.

use std::io::{BufRead, Write};

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::amount::Fen;

/// The namespace of pain.001.001.09.
pub const PAIN001_NS: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";
/// The namespace of pain.002.001.12.
pub const PAIN002_NS: &str = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12";
/// The message name a pain.002 names its original by.
pub const PAIN001_NAME: &str = "pain.001.001.09";
/// The only currency the platform pays in.
pub const CURRENCY: &str = "CNY";

/// A file could not be read as the message it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("the root element is {found}, expected Document in namespace {expected}")]
    WrongMessage {
        found: String,
        expected: &'static str,
    },
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    #[error("{element} is missing")]
    Missing { element: &'static str },
    #[error("{element} = {value:?}: {rule}")]
    Invalid {
        element: &'static str,
        value: String,
        rule: String,
    },
    #[error("the file nests elements deeper than {0} levels")]
    TooDeep(usize),
    #[error("an element's text is longer than {0} bytes")]
    TooLong(usize),
}

/// An account with its holder and the bank that keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub account: String,
    pub bank: String,
}

/// One credit transfer of a pain.001 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    pub end_to_end_id: String,
    pub amount: Fen,
    pub creditor: Party,
    /// Unstructured remittance information: what the payment is for.
    pub remittance: String,
}

/// A pain.001.001.09 message with one payment information block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain001 {
    pub msg_id: String,
    /// `xs:dateTime`, e.g. `2026-11-27T06:01:02Z`.
    pub created: String,
    pub initiating_party: String,
    pub payment_info_id: String,
    /// `xs:date` of the requested execution.
    pub execution_date: String,
    pub debtor: Party,
    pub transfers: Vec<CreditTransfer>,
}

impl Pain001 {
    /// The control sum: the sum of all amounts.
    pub fn control_sum(&self) -> Fen {
        Fen(self.transfers.iter().map(|t| t.amount.0).sum())
    }
}

/// Why a status was given: an ISO 20022 external status reason code and optional text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: String,
    pub additional: Option<String>,
}

/// The status of one transaction in a pain.002.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatus {
    pub original_end_to_end_id: String,
    /// `TxSts` (inherited from the payment information or group status when absent).
    pub status: String,
    pub reason: Option<Reason>,
}

/// A pain.002.001.12 message, flattened: transaction statuses inherit the status and reason of
/// their payment information block, then of the group, when they carry none of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain002 {
    pub msg_id: String,
    pub created: String,
    pub original_msg_id: String,
    pub original_msg_name_id: String,
    pub group_status: Option<String>,
    pub group_reason: Option<Reason>,
    /// The original payment information block, when named.
    pub original_payment_info_id: Option<String>,
    pub transactions: Vec<TxStatus>,
}

const MAX_DEPTH: usize = 32;
const MAX_TEXT: usize = 4096;

fn text(w: &mut Writer<impl Write>, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn named_account(w: &mut Writer<impl Write>, name: &str, account: &str) -> std::io::Result<()> {
    w.create_element(name).write_inner_content(|w| {
        w.create_element("Id").write_inner_content(|w| {
            w.create_element("Othr")
                .write_inner_content(|w| text(w, "Id", account))?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

fn agent(w: &mut Writer<impl Write>, name: &str, bank: &str) -> std::io::Result<()> {
    w.create_element(name).write_inner_content(|w| {
        w.create_element("FinInstnId")
            .write_inner_content(|w| text(w, "Nm", bank))?;
        Ok(())
    })?;
    Ok(())
}

fn party(w: &mut Writer<impl Write>, name: &str, party_name: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_inner_content(|w| text(w, "Nm", party_name))?;
    Ok(())
}

fn start(w: &mut Writer<impl Write>, ns: &str, body: &str) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Start(
        quick_xml::events::BytesStart::new("Document").with_attributes([("xmlns", ns)]),
    ))?;
    w.write_event(Event::Start(quick_xml::events::BytesStart::new(body)))?;
    Ok(())
}

fn finish(w: &mut Writer<impl Write>, body: &str) -> std::io::Result<()> {
    w.write_event(Event::End(quick_xml::events::BytesEnd::new(body)))?;
    w.write_event(Event::End(quick_xml::events::BytesEnd::new("Document")))?;
    w.get_mut().write_all(b"\n")
}

/// Writes `msg` as a pain.001.001.09 document.
pub fn write_pain001(out: impl Write, msg: &Pain001) -> std::io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    let count = msg.transfers.len().to_string();
    let sum = msg.control_sum().to_decimal();
    start(&mut w, PAIN001_NS, "CstmrCdtTrfInitn")?;
    w.create_element("GrpHdr").write_inner_content(|w| {
        text(w, "MsgId", &msg.msg_id)?;
        text(w, "CreDtTm", &msg.created)?;
        text(w, "NbOfTxs", &count)?;
        text(w, "CtrlSum", &sum)?;
        party(w, "InitgPty", &msg.initiating_party)
    })?;
    w.create_element("PmtInf").write_inner_content(|w| {
        text(w, "PmtInfId", &msg.payment_info_id)?;
        text(w, "PmtMtd", "TRF")?;
        text(w, "NbOfTxs", &count)?;
        text(w, "CtrlSum", &sum)?;
        w.create_element("ReqdExctnDt")
            .write_inner_content(|w| text(w, "Dt", &msg.execution_date))?;
        party(w, "Dbtr", &msg.debtor.name)?;
        named_account(w, "DbtrAcct", &msg.debtor.account)?;
        agent(w, "DbtrAgt", &msg.debtor.bank)?;
        for t in &msg.transfers {
            w.create_element("CdtTrfTxInf").write_inner_content(|w| {
                w.create_element("PmtId")
                    .write_inner_content(|w| text(w, "EndToEndId", &t.end_to_end_id))?;
                w.create_element("Amt").write_inner_content(|w| {
                    w.create_element("InstdAmt")
                        .with_attribute(("Ccy", CURRENCY))
                        .write_text_content(BytesText::new(&t.amount.to_decimal()))?;
                    Ok(())
                })?;
                agent(w, "CdtrAgt", &t.creditor.bank)?;
                party(w, "Cdtr", &t.creditor.name)?;
                named_account(w, "CdtrAcct", &t.creditor.account)?;
                w.create_element("RmtInf")
                    .write_inner_content(|w| text(w, "Ustrd", &t.remittance))?;
                Ok(())
            })?;
        }
        Ok(())
    })?;
    finish(&mut w, "CstmrCdtTrfInitn")
}

fn reason(w: &mut Writer<impl Write>, r: &Reason) -> std::io::Result<()> {
    w.create_element("StsRsnInf").write_inner_content(|w| {
        w.create_element("Rsn")
            .write_inner_content(|w| text(w, "Cd", &r.code))?;
        if let Some(a) = &r.additional {
            text(w, "AddtlInf", a)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes `msg` as a pain.002.001.12 document, with the per-status counts the bank reports.
pub fn write_pain002(out: impl Write, msg: &Pain002, initiating_bank: &str) -> std::io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    start(&mut w, PAIN002_NS, "CstmrPmtStsRpt")?;
    w.create_element("GrpHdr").write_inner_content(|w| {
        text(w, "MsgId", &msg.msg_id)?;
        text(w, "CreDtTm", &msg.created)?;
        party(w, "InitgPty", initiating_bank)
    })?;
    let mut per_status: Vec<(&str, usize)> = Vec::new();
    for t in &msg.transactions {
        match per_status.iter_mut().find(|(s, _)| *s == t.status) {
            Some((_, n)) => *n += 1,
            None => per_status.push((&t.status, 1)),
        }
    }
    w.create_element("OrgnlGrpInfAndSts")
        .write_inner_content(|w| {
            text(w, "OrgnlMsgId", &msg.original_msg_id)?;
            text(w, "OrgnlMsgNmId", &msg.original_msg_name_id)?;
            text(w, "OrgnlNbOfTxs", &msg.transactions.len().to_string())?;
            if let Some(s) = &msg.group_status {
                text(w, "GrpSts", s)?;
            }
            if let Some(r) = &msg.group_reason {
                reason(w, r)?;
            }
            for (status, n) in &per_status {
                w.create_element("NbOfTxsPerSts").write_inner_content(|w| {
                    text(w, "DtldNbOfTxs", &n.to_string())?;
                    text(w, "DtldSts", status)
                })?;
            }
            Ok(())
        })?;
    if !msg.transactions.is_empty() {
        w.create_element("OrgnlPmtInfAndSts")
            .write_inner_content(|w| {
                text(
                    w,
                    "OrgnlPmtInfId",
                    msg.original_payment_info_id.as_deref().unwrap_or("1"),
                )?;
                for t in &msg.transactions {
                    w.create_element("TxInfAndSts").write_inner_content(|w| {
                        text(w, "OrgnlEndToEndId", &t.original_end_to_end_id)?;
                        text(w, "TxSts", &t.status)?;
                        if let Some(r) = &t.reason {
                            reason(w, r)?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
    }
    finish(&mut w, "CstmrPmtStsRpt")
}

/// What a streaming parse sees: the element path and, at each end tag, its text.
trait Handler {
    /// An element opened; `path` includes it.
    fn open(&mut self, _path: &[String], _attrs: &[(String, String)]) -> Result<(), XmlError> {
        Ok(())
    }
    /// An element closed with `text` (trimmed); `path` still includes it.
    fn close(&mut self, path: &[String], text: String) -> Result<(), XmlError>;
}

/// Streams `input`, checking that the root is `Document` in `namespace` and its child is
/// `body`, and calls `handler` for each element.
fn walk(
    input: impl BufRead,
    namespace: &'static str,
    body: &'static str,
    handler: &mut impl Handler,
) -> Result<(), XmlError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // The text of each open element; None once it has a child (ISO 20022 has no mixed content).
    let mut texts: Vec<Option<String>> = Vec::new();
    let mut seen_root = false;
    let malformed = |reader: &Reader<_>, message: String| XmlError::Malformed {
        position: reader.error_position(),
        message,
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| malformed(&reader, e.to_string()))?;
                    attrs.push((a.key.as_ref().to_owned(), a.value.to_string()));
                }
                if path.is_empty() {
                    let ns = attrs.iter().find(|(k, _)| k == "xmlns").map(|(_, v)| v);
                    if seen_root
                        || name != "Document"
                        || e.name().as_ref() != "Document"
                        || ns.map(String::as_str) != Some(namespace)
                    {
                        return Err(XmlError::WrongMessage {
                            found: format!(
                                "{}{}",
                                e.name().as_ref(),
                                ns.map(|n| format!(" in namespace {n}")).unwrap_or_default()
                            ),
                            expected: namespace,
                        });
                    }
                    seen_root = true;
                }
                if path.len() == 1 && name != body {
                    return Err(XmlError::WrongMessage {
                        found: format!("Document/{name}"),
                        expected: namespace,
                    });
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(XmlError::TooDeep(MAX_DEPTH));
                }
                if let Some(parent) = texts.last_mut() {
                    *parent = None;
                }
                texts.push(Some(String::new()));
                handler.open(&path, &attrs)?;
            }
            Event::End(_) => {
                let text = texts.pop().flatten().unwrap_or_default();
                handler.close(&path, text.trim().to_owned())?;
                path.pop();
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                push_text(&mut texts, &s, &path, &reader)?;
            }
            Event::CData(t) => {
                let s = t.xml10_content();
                push_text(&mut texts, &s, &path, &reader)?;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(malformed(&reader, format!("unknown entity &{other};")))
                        }
                    },
                    Err(e) => return Err(malformed(&reader, e.to_string())),
                };
                push_text(&mut texts, c.encode_utf8(&mut [0; 4]), &path, &reader)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err(malformed(
            &reader,
            format!("{} is not closed", path.join("/")),
        ));
    }
    if !seen_root {
        return Err(XmlError::Missing {
            element: "Document",
        });
    }
    Ok(())
}

fn push_text<R>(
    texts: &mut [Option<String>],
    s: &str,
    path: &[String],
    reader: &Reader<R>,
) -> Result<(), XmlError> {
    match texts.last_mut() {
        Some(None) => Ok(()),
        Some(Some(t)) => {
            if t.len() + s.len() > MAX_TEXT {
                return Err(XmlError::TooLong(MAX_TEXT));
            }
            t.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed {
            position: reader.buffer_position(),
            message: format!("text outside the root element (after {})", path.join("/")),
        }),
    }
}

fn ends(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

fn max_text(element: &'static str, value: String, max: usize) -> Result<String, XmlError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(XmlError::Invalid {
            element,
            value,
            rule: format!("must be 1 to {max} characters"),
        });
    }
    Ok(value)
}

fn required<T>(v: Option<T>, element: &'static str) -> Result<T, XmlError> {
    v.ok_or(XmlError::Missing { element })
}

fn count_text(element: &'static str, value: &str) -> Result<usize, XmlError> {
    if value.is_empty() || value.len() > 15 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(XmlError::Invalid {
            element,
            value: value.to_owned(),
            rule: "must be 1 to 15 digits".into(),
        });
    }
    value.parse().map_err(|_| XmlError::Invalid {
        element,
        value: value.to_owned(),
        rule: "too large".into(),
    })
}

#[derive(Default)]
struct Pain001Parse {
    msg_id: Option<String>,
    created: Option<String>,
    count: Option<String>,
    sum: Option<String>,
    initiating_party: Option<String>,
    payment_info_id: Option<String>,
    execution_date: Option<String>,
    debtor_name: Option<String>,
    debtor_account: Option<String>,
    debtor_bank: Option<String>,
    tx: TxParse,
    currency: Option<String>,
    transfers: Vec<CreditTransfer>,
}

#[derive(Default)]
struct TxParse {
    e2e: Option<String>,
    amount: Option<String>,
    name: Option<String>,
    account: Option<String>,
    bank: Option<String>,
    remittance: Vec<String>,
}

impl Handler for Pain001Parse {
    fn open(&mut self, path: &[String], attrs: &[(String, String)]) -> Result<(), XmlError> {
        if ends(path, &["CdtTrfTxInf"]) {
            self.tx = TxParse::default();
        } else if ends(path, &["CdtTrfTxInf", "Amt", "InstdAmt"]) {
            self.currency = attrs
                .iter()
                .find(|(k, _)| k == "Ccy")
                .map(|(_, v)| v.clone());
        }
        Ok(())
    }

    fn close(&mut self, path: &[String], text: String) -> Result<(), XmlError> {
        let p = |tail: &[&str]| ends(path, tail);
        if p(&["GrpHdr", "MsgId"]) {
            self.msg_id = Some(text);
        } else if p(&["GrpHdr", "CreDtTm"]) {
            self.created = Some(text);
        } else if p(&["GrpHdr", "NbOfTxs"]) {
            self.count = Some(text);
        } else if p(&["GrpHdr", "CtrlSum"]) {
            self.sum = Some(text);
        } else if p(&["GrpHdr", "InitgPty", "Nm"]) {
            self.initiating_party = Some(text);
        } else if p(&["PmtInf", "PmtInfId"]) {
            self.payment_info_id.get_or_insert(text);
        } else if p(&["PmtInf", "ReqdExctnDt", "Dt"]) {
            self.execution_date.get_or_insert(text);
        } else if p(&["PmtInf", "Dbtr", "Nm"]) {
            self.debtor_name = Some(text);
        } else if p(&["PmtInf", "DbtrAcct", "Id", "Othr", "Id"]) {
            self.debtor_account = Some(text);
        } else if p(&["PmtInf", "DbtrAgt", "FinInstnId", "Nm"]) {
            self.debtor_bank = Some(text);
        } else if p(&["CdtTrfTxInf", "PmtId", "EndToEndId"]) {
            self.tx.e2e = Some(text);
        } else if p(&["CdtTrfTxInf", "Amt", "InstdAmt"]) {
            if self.currency.as_deref() != Some(CURRENCY) {
                return Err(XmlError::Invalid {
                    element: "InstdAmt/@Ccy",
                    value: self.currency.clone().unwrap_or_default(),
                    rule: format!("the platform pays only in {CURRENCY}"),
                });
            }
            self.tx.amount = Some(text);
        } else if p(&["CdtTrfTxInf", "Cdtr", "Nm"]) {
            self.tx.name = Some(text);
        } else if p(&["CdtTrfTxInf", "CdtrAcct", "Id", "Othr", "Id"]) {
            self.tx.account = Some(text);
        } else if p(&["CdtTrfTxInf", "CdtrAgt", "FinInstnId", "Nm"]) {
            self.tx.bank = Some(text);
        } else if p(&["CdtTrfTxInf", "RmtInf", "Ustrd"]) {
            self.tx.remittance.push(text);
        } else if p(&["CdtTrfTxInf"]) {
            let tx = std::mem::take(&mut self.tx);
            let amount_text = required(tx.amount, "CdtTrfTxInf/Amt/InstdAmt")?;
            let amount = Fen::parse_decimal(&amount_text).map_err(|e| XmlError::Invalid {
                element: "InstdAmt",
                value: amount_text.clone(),
                rule: e.to_string(),
            })?;
            self.transfers.push(CreditTransfer {
                end_to_end_id: max_text(
                    "EndToEndId",
                    required(tx.e2e, "CdtTrfTxInf/PmtId/EndToEndId")?,
                    35,
                )?,
                amount,
                creditor: Party {
                    name: required(tx.name, "CdtTrfTxInf/Cdtr/Nm")?,
                    account: required(tx.account, "CdtTrfTxInf/CdtrAcct/Id/Othr/Id")?,
                    bank: tx.bank.unwrap_or_default(),
                },
                remittance: tx.remittance.join(" "),
            });
        }
        Ok(())
    }
}

/// Reads a pain.001.001.09 message (all payment information blocks' transfers, the first
/// block's header), checking its counts and control sums.
pub fn read_pain001(input: impl BufRead) -> Result<Pain001, XmlError> {
    let mut p = Pain001Parse::default();
    walk(input, PAIN001_NS, "CstmrCdtTrfInitn", &mut p)?;
    let msg = Pain001 {
        msg_id: max_text("MsgId", required(p.msg_id, "GrpHdr/MsgId")?, 35)?,
        created: required(p.created, "GrpHdr/CreDtTm")?,
        initiating_party: p.initiating_party.unwrap_or_default(),
        payment_info_id: required(p.payment_info_id, "PmtInf/PmtInfId")?,
        execution_date: required(p.execution_date, "PmtInf/ReqdExctnDt/Dt")?,
        debtor: Party {
            name: p.debtor_name.unwrap_or_default(),
            account: required(p.debtor_account, "PmtInf/DbtrAcct/Id/Othr/Id")?,
            bank: p.debtor_bank.unwrap_or_default(),
        },
        transfers: p.transfers,
    };
    let count_text_value = required(p.count, "GrpHdr/NbOfTxs")?;
    let count = count_text("NbOfTxs", &count_text_value)?;
    if count != msg.transfers.len() {
        return Err(XmlError::Invalid {
            element: "NbOfTxs",
            value: count_text_value,
            rule: format!("the file holds {} transfers", msg.transfers.len()),
        });
    }
    if let Some(sum) = p.sum {
        let declared = Fen::parse_decimal(&sum).map_err(|e| XmlError::Invalid {
            element: "CtrlSum",
            value: sum.clone(),
            rule: e.to_string(),
        })?;
        if declared != msg.control_sum() {
            return Err(XmlError::Invalid {
                element: "CtrlSum",
                value: sum,
                rule: format!("the amounts add up to {}", msg.control_sum()),
            });
        }
    }
    Ok(msg)
}

#[derive(Default)]
struct Pain002Parse {
    msg_id: Option<String>,
    created: Option<String>,
    original_msg_id: Option<String>,
    original_name: Option<String>,
    group_status: Option<String>,
    group_reason: Option<Reason>,
    pmt_inf_id: Option<String>,
    pmt_status: Option<String>,
    pmt_reason: Option<Reason>,
    reason: ReasonParse,
    tx: TxStatusParse,
    /// Transactions with the payment information status and reason current when they closed.
    transactions: Vec<(TxStatusParse, Option<String>, Option<Reason>)>,
}

#[derive(Default, Clone)]
struct ReasonParse {
    code: Option<String>,
    additional: Vec<String>,
}

impl ReasonParse {
    fn take(&mut self) -> Result<Option<Reason>, XmlError> {
        let r = std::mem::take(self);
        match r.code {
            None => Ok(None),
            Some(code) => Ok(Some(Reason {
                code: status_code("StsRsnInf/Rsn/Cd", code)?,
                additional: (!r.additional.is_empty()).then(|| r.additional.join(" ")),
            })),
        }
    }
}

#[derive(Default, Clone)]
struct TxStatusParse {
    e2e: Option<String>,
    status: Option<String>,
    reason: Option<Reason>,
    seen: bool,
}

fn status_code(element: &'static str, code: String) -> Result<String, XmlError> {
    if code.is_empty() || code.len() > 4 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(XmlError::Invalid {
            element,
            value: code,
            rule: "must be an ISO 20022 code of 1 to 4 letters or digits".into(),
        });
    }
    Ok(code)
}

impl Handler for Pain002Parse {
    fn open(&mut self, path: &[String], _attrs: &[(String, String)]) -> Result<(), XmlError> {
        if ends(path, &["TxInfAndSts"]) {
            self.tx = TxStatusParse {
                seen: true,
                ..TxStatusParse::default()
            };
        } else if ends(path, &["StsRsnInf"]) {
            self.reason = ReasonParse::default();
        } else if ends(path, &["OrgnlPmtInfAndSts"]) {
            self.pmt_status = None;
            self.pmt_reason = None;
        }
        Ok(())
    }

    fn close(&mut self, path: &[String], text: String) -> Result<(), XmlError> {
        let p = |tail: &[&str]| ends(path, tail);
        if p(&["GrpHdr", "MsgId"]) {
            self.msg_id = Some(text);
        } else if p(&["GrpHdr", "CreDtTm"]) {
            self.created = Some(text);
        } else if p(&["OrgnlGrpInfAndSts", "OrgnlMsgId"]) {
            self.original_msg_id = Some(text);
        } else if p(&["OrgnlGrpInfAndSts", "OrgnlMsgNmId"]) {
            self.original_name = Some(text);
        } else if p(&["OrgnlGrpInfAndSts", "GrpSts"]) {
            self.group_status = Some(status_code("GrpSts", text)?);
        } else if p(&["OrgnlPmtInfAndSts", "OrgnlPmtInfId"]) {
            self.pmt_inf_id.get_or_insert(text);
        } else if p(&["OrgnlPmtInfAndSts", "PmtInfSts"]) {
            self.pmt_status = Some(status_code("PmtInfSts", text)?);
        } else if p(&["TxInfAndSts", "OrgnlEndToEndId"]) {
            self.tx.e2e = Some(text);
        } else if p(&["TxInfAndSts", "TxSts"]) {
            self.tx.status = Some(status_code("TxSts", text)?);
        } else if p(&["StsRsnInf", "Rsn", "Cd"]) {
            self.reason.code = Some(text);
        } else if p(&["StsRsnInf", "Rsn", "Prtry"]) {
            self.reason.code.get_or_insert(text);
        } else if p(&["StsRsnInf", "AddtlInf"]) {
            self.reason.additional.push(text);
        } else if p(&["TxInfAndSts", "StsRsnInf"]) {
            let r = self.reason.take()?;
            self.tx.reason = self.tx.reason.take().or(r);
        } else if p(&["OrgnlPmtInfAndSts", "StsRsnInf"]) {
            let r = self.reason.take()?;
            self.pmt_reason = self.pmt_reason.take().or(r);
        } else if p(&["OrgnlGrpInfAndSts", "StsRsnInf"]) {
            let r = self.reason.take()?;
            self.group_reason = self.group_reason.take().or(r);
        } else if p(&["TxInfAndSts"]) {
            let tx = std::mem::take(&mut self.tx);
            self.transactions
                .push((tx, self.pmt_status.clone(), self.pmt_reason.clone()));
        }
        Ok(())
    }
}

/// Reads a pain.002.001.12 status report.
pub fn read_pain002(input: impl BufRead) -> Result<Pain002, XmlError> {
    let mut p = Pain002Parse::default();
    walk(input, PAIN002_NS, "CstmrPmtStsRpt", &mut p)?;
    let original_msg_name_id = required(p.original_name, "OrgnlGrpInfAndSts/OrgnlMsgNmId")?;
    if original_msg_name_id != PAIN001_NAME {
        return Err(XmlError::Invalid {
            element: "OrgnlMsgNmId",
            value: original_msg_name_id,
            rule: format!("the platform sends only {PAIN001_NAME}"),
        });
    }
    let mut transactions = Vec::with_capacity(p.transactions.len());
    for (tx, pmt_status, pmt_reason) in p.transactions {
        debug_assert!(tx.seen);
        let status = tx
            .status
            .or(pmt_status)
            .or_else(|| p.group_status.clone())
            .ok_or(XmlError::Missing {
                element: "TxInfAndSts/TxSts",
            })?;
        transactions.push(TxStatus {
            original_end_to_end_id: max_text(
                "OrgnlEndToEndId",
                required(tx.e2e, "TxInfAndSts/OrgnlEndToEndId")?,
                35,
            )?,
            status,
            reason: tx.reason.or(pmt_reason).or_else(|| p.group_reason.clone()),
        });
    }
    Ok(Pain002 {
        msg_id: max_text("MsgId", required(p.msg_id, "GrpHdr/MsgId")?, 35)?,
        created: required(p.created, "GrpHdr/CreDtTm")?,
        original_msg_id: max_text(
            "OrgnlMsgId",
            required(p.original_msg_id, "OrgnlGrpInfAndSts/OrgnlMsgId")?,
            35,
        )?,
        original_msg_name_id,
        group_status: p.group_status,
        group_reason: p.group_reason,
        original_payment_info_id: p.pmt_inf_id,
        transactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pain001 {
        Pain001 {
            msg_id: "M1".into(),
            created: "2026-11-27T06:01:02Z".into(),
            initiating_party: "Finance & Co <Dept>".into(),
            payment_info_id: "M1-1".into(),
            execution_date: "2026-11-27".into(),
            debtor: Party {
                name: "贵州省财政厅".into(),
                account: "52000000000000000001".into(),
                bank: "Bank".into(),
            },
            transfers: vec![
                CreditTransfer {
                    end_to_end_id: "E1".into(),
                    amount: Fen(500_000),
                    creditor: Party {
                        name: "张三".into(),
                        account: "6217000000000000001".into(),
                        bank: "农村信用社".into(),
                    },
                    remittance: "freshman-subsidy 2026".into(),
                },
                CreditTransfer {
                    end_to_end_id: "E2".into(),
                    amount: Fen(5),
                    creditor: Party {
                        name: "O'Brien \"Li\"".into(),
                        account: "6217000000000000002".into(),
                        bank: "B".into(),
                    },
                    remittance: "x".into(),
                },
            ],
        }
    }

    #[test]
    fn pain001_round_trips_with_escapes() {
        let msg = sample();
        let mut out = Vec::new();
        write_pain001(&mut out, &msg).expect("written");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert!(text.contains("<CtrlSum>5000.05</CtrlSum>"), "{text}");
        assert!(text.contains(r#"<InstdAmt Ccy="CNY">0.05</InstdAmt>"#));
        assert_eq!(read_pain001(&out[..]), Ok(msg));
    }

    proptest::proptest! {
        #[test]
        fn control_sum_is_the_sum_of_the_amounts(amounts in proptest::collection::vec(1i64..=crate::MAX_PAYMENT_FEN, 1..40)) {
            let mut msg = sample();
            let template = msg.transfers[0].clone();
            msg.transfers = amounts
                .iter()
                .enumerate()
                .map(|(i, a)| CreditTransfer { end_to_end_id: format!("E{i}"), amount: Fen(*a), ..template.clone() })
                .collect();
            let mut out = Vec::new();
            write_pain001(&mut out, &msg).expect("written");
            let text = String::from_utf8(out.clone()).expect("utf-8");
            let sum = Fen(amounts.iter().sum());
            let expected = format!("<CtrlSum>{}</CtrlSum>", sum.to_decimal());
            proptest::prop_assert!(text.contains(&expected));
            let back = read_pain001(&out[..]).expect("read back");
            proptest::prop_assert_eq!(back.control_sum(), sum);
            proptest::prop_assert_eq!(back, msg);
        }
    }

    #[test]
    fn pain001_with_wrong_sums_or_currency_is_refused() {
        let mut out = Vec::new();
        write_pain001(&mut out, &sample()).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        let bad_sum = text.replacen(
            "<CtrlSum>5000.05</CtrlSum>",
            "<CtrlSum>5000.06</CtrlSum>",
            1,
        );
        assert!(matches!(
            read_pain001(bad_sum.as_bytes()),
            Err(XmlError::Invalid {
                element: "CtrlSum",
                ..
            })
        ));
        let bad_ccy = text.replacen("Ccy=\"CNY\"", "Ccy=\"USD\"", 1);
        assert!(read_pain001(bad_ccy.as_bytes()).is_err());
        let bad_amount = text.replacen(">0.05<", ">0.055<", 1);
        assert!(read_pain001(bad_amount.as_bytes()).is_err());
    }

    #[test]
    fn wrong_roots_and_doctypes_are_refused() {
        assert!(matches!(
            read_pain002(
                &b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\"/>"[..]
            ),
            Err(XmlError::WrongMessage { .. })
        ));
        assert_eq!(
            read_pain002(&b"<!DOCTYPE x [<!ENTITY a \"b\">]><Document/>"[..]),
            Err(XmlError::Doctype)
        );
        assert!(matches!(
            read_pain002(&b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\"><CstmrPmtStsRpt>"[..]),
            Err(XmlError::Malformed { .. })
        ));
        assert!(read_pain002(&b""[..]).is_err());
    }

    #[test]
    fn statuses_inherit_from_the_group() {
        let xml = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12"><CstmrPmtStsRpt>
<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-11-27T00:00:00Z</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>M1-1</OrgnlPmtInfId>
<TxInfAndSts><OrgnlEndToEndId>E1</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
<TxInfAndSts><OrgnlEndToEndId>E2</OrgnlEndToEndId><TxSts>RJCT</TxSts>
<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>account closed &amp; gone</AddtlInf></StsRsnInf></TxInfAndSts>
</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#;
        let r = read_pain002(xml.as_bytes()).expect("parsed");
        assert_eq!(r.original_msg_id, "M1");
        assert_eq!(r.transactions.len(), 2);
        assert_eq!(r.transactions[0].status, "ACSC");
        assert_eq!(r.transactions[0].reason, None);
        let reason = r.transactions[1].reason.as_ref().expect("reason");
        assert_eq!(reason.code, "AC04");
        assert_eq!(reason.additional.as_deref(), Some("account closed & gone"));
    }
}
