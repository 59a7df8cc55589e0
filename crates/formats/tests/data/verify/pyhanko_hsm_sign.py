"""Signs a PDF with pyHanko, the RSA key being in a PKCS#11 token reached through pkcs11-tool
(OpenSC), for tests where the key is held by Tessera's custodian (SoftHSM2) and python-pkcs11
is not installed.

usage: pyhanko_hsm_sign.py MODULE TOKEN_LABEL PIN KEY_ID_HEX CERT_PEM CHAIN_PEM... IN OUT
(SOFTHSM2_CONF must point at the token's configuration.)
"""
import subprocess
import sys
import tempfile

from asn1crypto import algos
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.keys.pemder import load_certs_from_pemder
from pyhanko_certvalidator.registry import SimpleCertificateStore


class Pkcs11ToolSigner(signers.Signer):
    def __init__(self, module, token, pin, key_id, cert, chain):
        self.module, self.token, self.pin, self.key_id = module, token, pin, key_id
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([cert] + chain),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
        )

    async def async_sign_raw(self, data, digest_algorithm, dry_run=False):
        if dry_run:
            return bytes(256)
        with tempfile.NamedTemporaryFile() as inp, tempfile.NamedTemporaryFile() as out:
            inp.write(data)
            inp.flush()
            subprocess.run(
                ["pkcs11-tool", "--module", self.module, "--token-label", self.token,
                 "--login", "--pin", self.pin, "--sign", "--type", "privkey",
                 "--id", self.key_id, "--mechanism", "SHA256-RSA-PKCS",
                 "--input-file", inp.name, "--output-file", out.name],
                check=True, capture_output=True)
            return open(out.name, "rb").read()


def main():
    module, token, pin, key_id, cert_file = sys.argv[1:6]
    chain_files, inp, outp = sys.argv[6:-2], sys.argv[-2], sys.argv[-1]
    # The first certificate of CERT_PEM is the signer's (Tessera exports it with its chain).
    certs = list(load_certs_from_pemder([cert_file]))
    cert = certs[0]
    chain = certs[1:] + list(load_certs_from_pemder(chain_files))
    signer = Pkcs11ToolSigner(module, token, pin, key_id, cert, chain)
    with open(inp, "rb") as f:
        w = IncrementalPdfFileWriter(f)
        with open(outp, "wb") as o:
            signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Sig1"), signer=signer, output=o)


main()
