#!/bin/sh
# Makes test signatures with tools nobody here wrote (openssl CLI, pyHanko), for the verify
# tests. Usage: make.sh OUT_DIR INPUT.pdf
# OUT_DIR gets: root.pem (trust anchor), other-root.pem (not an anchor), root.crl (revokes
# revoked.pem), and the signed files listed at the end.
set -eu
out=$1
input=$(realpath "$2")
mkdir -p "$out"
cd "$out"
rm -rf ca && mkdir ca && : > ca/index.txt && echo 1000 > ca/serial && echo 1000 > ca/crlnumber
cat > ca.cnf <<'CNF'
[ca]
default_ca = test_ca
[test_ca]
dir = ./ca
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = ./ca
certificate = ./root.pem
private_key = ./root.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
x509_extensions = signer_ext
[any]
commonName = supplied
organizationName = optional
[signer_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
  -days 3650 -subj "/CN=Verify Test Root/O=Tessera Test" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-root.key \
  -out other-root.pem -days 3650 -subj "/CN=Someone Else Root" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
issue() { # name keyalg [ca options...]
  name=$1; alg=$2; shift 2
  # shellcheck disable=SC2086
  q openssl req -new -newkey $alg -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=Test $name/O=Tessera Test"
  q openssl ca -batch -config ca.cnf -in "$name.csr" -out "$name.pem" -notext "$@"
}
issue signer rsa:2048 -days 365
issue ecsigner "ec -pkeyopt ec_paramgen_curve:P-256" -days 365
issue expired rsa:2048 -startdate 20200101000000Z -enddate 20210101000000Z
issue revoked rsa:2048 -days 365
issue tsa rsa:2048 -startdate 20190101000000Z -enddate 20361231000000Z -extensions tsa_ext
q openssl ca -config ca.cnf -revoke revoked.pem -crl_reason keyCompromise
q openssl ca -config ca.cnf -gencrl -out root.crl.pem
q openssl crl -in root.crl.pem -outform DER -out root.crl
# A signer under a root that is not a trust anchor.
q openssl req -new -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.csr -subj "/CN=Stranger"
q openssl x509 -req -in stranger.csr -CA other-root.pem -CAkey other-root.key -CAcreateserial \
  -days 365 -out stranger.pem -extfile ca.cnf -extensions signer_ext

cp "$input" input-copy.pdf
sign() { # name out.pdf [in.pdf]
  q python3 -m pyhanko sign addsig --field "Sig$(date +%N)" pemder --no-pass --key "$1.key" --cert "$1.pem" \
    --chain root.pem "${3:-$input}" "$2"
}
sign signer valid.pdf
sign ecsigner valid-ec.pdf
sign expired expired.pdf
sign revoked revoked.pdf
q python3 -m pyhanko sign addsig --field Sig1 pemder --no-pass --key stranger.key --cert stranger.pem \
  --chain other-root.pem "$input" untrusted.pdf
sign ecsigner two-signatures.pdf valid.pdf
# Timestamps by pyHanko's test TSA (tsa.pem, valid since 2019): a signature by the expired
# certificate time-stamped in 2020 (proof of existence while it was valid); a signature by the
# revoked certificate time-stamped now (after the revocation); valid.pdf plus a document
# timestamp.
q python3 - <<'PY'
from datetime import datetime, timezone
from pyhanko.keys import load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers, timestamps
from pyhanko.sign.general import load_cert_from_pemder
def tsa(dt=None):
    return timestamps.DummyTimeStamper(
        tsa_cert=load_cert_from_pemder("tsa.pem"),
        tsa_key=load_private_key_from_pemder("tsa.key", None), fixed_dt=dt)
def sign(key, cert, src, out, ts, field="Sig1"):
    signer = signers.SimpleSigner.load(key, cert, ca_chain_files=("root.pem",))
    with open(src, "rb") as f, open(out, "wb") as o:
        signers.sign_pdf(IncrementalPdfFileWriter(f),
                         signers.PdfSignatureMetadata(field_name=field),
                         signer=signer, timestamper=ts, output=o)
sign("expired.key", "expired.pem", "valid.pdf".replace("valid", "input-copy"), "expired-ts.pdf",
     tsa(datetime(2020, 6, 1, tzinfo=timezone.utc)))
sign("revoked.key", "revoked.pem", "input-copy.pdf", "revoked-ts.pdf", tsa())
# Certification signatures: DocMDP P=2 followed by an approval signature, P=1 followed by a
# document timestamp (pyHanko refuses to add a signature after P=1).
from pyhanko.sign.fields import MDPPerm
for perm, name in ((MDPPerm.NO_CHANGES, "certified-p1"), (MDPPerm.FILL_FORMS, "certified-p2")):
    signer = signers.SimpleSigner.load("signer.key", "signer.pem", ca_chain_files=("root.pem",))
    with open("input-copy.pdf", "rb") as f, open(name + ".pdf", "wb") as o:
        signers.sign_pdf(IncrementalPdfFileWriter(f),
                         signers.PdfSignatureMetadata(field_name="Cert", certify=True,
                                                      docmdp_permissions=perm),
                         signer=signer, output=o)
    if perm == MDPPerm.FILL_FORMS:
        sign("ecsigner.key", "ecsigner.pem", name + ".pdf", name + "-then-signed.pdf", None, "Sig2")
with open("certified-p1.pdf", "rb") as f, open("certified-p1-then-ts.pdf", "wb") as o:
    signers.PdfTimeStamper(tsa()).timestamp_pdf(IncrementalPdfFileWriter(f), "sha256", output=o)
with open("valid.pdf", "rb") as f, open("doc-ts.pdf", "wb") as o:
    signers.PdfTimeStamper(tsa()).timestamp_pdf(IncrementalPdfFileWriter(f), "sha256", output=o)
PY
# Tampered copies of valid.pdf: one byte changed inside the signed range; junk appended after
# it; one byte changed in the /Contents padding (outside the range).
python3 - <<'PY'
data = bytearray(open("valid.pdf", "rb").read())
i = data.index(b"/Producer")
j = data.index(b"(", i) + 1
tampered = bytearray(data)
tampered[j] = ord("X") if tampered[j] != ord("X") else ord("Y")
open("tampered-inside.pdf", "wb").write(tampered)
open("tampered-appended.pdf", "wb").write(data + b"\njunk appended after the signature\n")
c = data.index(b"/Contents <")
end = data.index(b">", c)
pad = bytearray(data)
pad[end - 2] = ord("1")
open("tampered-padding.pdf", "wb").write(pad)
PY
# Detached CMS over a text file, by openssl.
printf 'Công văn số 245/STTTT-CĐS\n' > content.txt
q openssl cms -sign -binary -outform DER -in content.txt -signer signer.pem -inkey signer.key \
  -certfile root.pem -out content.p7s
printf 'Công văn số 246/STTTT-CĐS\n' > other-content.txt
