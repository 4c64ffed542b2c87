"""The scam check's logic (issue 20, item 1): signs in links and words, verdicts, the rules file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.content.problems import ContentError
from bot.content.snapshot import load_snapshot
from bot.content.store import ContentStore
from bot.scamcheck import ScamRules, check, has_link, looks_forwarded
from bot.scamcheck.links import find_links, registrable
from bot.scamcheck.phrases import PatternError, compile_pattern, read_words

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


@pytest.fixture(scope="module")
def rules() -> ScamRules:
    return load_snapshot(CONTENT).scam


def ids(text: str, rules: ScamRules) -> set[str]:
    return {f.id for f in check(text, rules).found}


# --- the six messages the issue names ---------------------------------------------------------


def test_forwarded_bank_phishing_sms(rules: ScamRules) -> None:
    sms = (
        "[Vietcombank] Tai khoan cua Quy khach dang bi tam khoa do dang nhap tren thiet bi la. "
        "Vui long xac thuc tai https://vietcombank-xacthuc.top/login trong 24h de tranh bi khoa "
        "vinh vien."
    )
    verdict = check(sms, rules)
    assert verdict.scam
    assert {"lookalike", "urgency"} <= ids(sms, rules)
    assert verdict.reasons and all(verdict.reasons)
    assert any("vietcombank-xacthuc.top" in r and "Vietcombank" in r for r in verdict.reasons)
    assert verdict.unknown_domains == ("vietcombank-xacthuc.top",)


def test_lookalike_links(rules: ScamRules) -> None:
    for text, brand in [
        ("Nhan qua tai msb.vn-ms.top", "MSB"),  # the brand's name before someone else's domain
        ("Dang nhap http://vietcornbank.com.vn de nhan tien", "Vietcombank"),  # rn for m
        ("Cap nhat tai agribank-online.com", "Agribank"),  # extra words
        ("Xem don hang tai shoppe-vn.com", "Shopee"),  # one letter off
        ("Thanh toan tien dien tai evnhanoi-thanhtoan.com", "Điện lực (EVN)"),
    ]:
        verdict = check(text, rules)
        assert verdict.scam, text
        assert any(brand in r for r in verdict.reasons), (text, verdict.reasons)
    assert "government" in ids("Tich hop dinh danh muc 2 tai dichvucong-gov.vn.cc", rules)
    assert "government" in ids("BHXH thong bao: tra cuu tai baohiemxahoi.govvvn.com", rules)


def test_apk_link(rules: ScamRules) -> None:
    text = "Cán bộ công an hướng dẫn: tải ứng dụng VNeID mới tại http://103.97.125.12/VNeID.apk"
    found = ids(text, rules)
    assert check(text, rules).scam
    assert {"apk", "ip_address", "install_app"} <= found
    assert "apk_file" in ids("Bác cài file VNeID-moi.apk em gửi qua Zalo nhé", rules)


def test_otp_request(rules: ScamRules) -> None:
    for text in [
        "Em là nhân viên Shopee, chị đọc giúp em mã OTP vừa gửi về máy để em hủy đơn nhé",
        "ban oi minh gui nham ma xac nhan vao sdt cua ban, ban nhan lai ma vua gui giup minh nhe",
        "Quy khach vui long cung cap ma OTP cho nhan vien de duoc ho tro mo khoa",
        "Nếu không cung cấp mã OTP, tài khoản của quý khách sẽ bị khóa.",
    ]:
        verdict = check(text, rules)
        assert verdict.scam, text
        assert "asks_code" in {f.id for f in verdict.found}, text


def test_legitimate_bank_otp_text(rules: ScamRules) -> None:
    for text in [
        "Ma OTP cua Quy khach la 483920 de xac thuc giao dich 2,500,000VND. Tuyet doi KHONG "
        "cung cap ma OTP cho bat ky ai, ke ca nhan vien ngan hang.",
        "Vietcombank: 193456 la ma OTP giao dich chuyen tien. Ma co hieu luc trong 3 phut. "
        "Không chia sẻ mã này với bất kỳ ai.",
        "Vietcombank khong bao gio yeu cau khach hang cung cap mat khau, OTP qua dien thoai. "
        "Quy khach vui long cap nhat sinh trac hoc tren ung dung VCB Digibank.",
    ]:
        verdict = check(text, rules)
        assert not verdict.scam, (text, verdict.found)
        assert verdict.reasons == []


def test_legitimate_delivery_notice(rules: ScamRules) -> None:
    for text in [
        "GHN: Don hang 84KX2 cua ban dang duoc giao. Shipper se goi cho ban truoc khi den. "
        "Theo doi tai https://ghn.vn/tracking/84KX2",
        "Shopee: Don hang 2412ABC da giao thanh cong. Danh gia san pham tai shp.ee/abc123 "
        "de nhan xu nhe!",
        "Viettel Post: buu pham cua ban se duoc giao hom nay, vui long chuan bi 250.000d "
        "tien thu ho.",
    ]:
        assert not check(text, rules).scam, text


# --- more signs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        (
            "Cong an TP thong bao anh lien quan den vu an rua tien, phai phoi hop dieu tra",
            "authority_case",
        ),
        (
            "Con anh dang cap cuu o benh vien, thay giao can anh chuyen gap 30 trieu",
            "relative_emergency",
        ),
        ("Vay nhanh 50 trieu, chi can dong phi ho so 500k la giai ngan", "fee_for_benefit"),
        ("Ban chuyen 2 trieu dat coc de nhan viec ngay", "money_before_benefit"),
        ("Viec nhe luong cao, lam nhiem vu like video nhan hoa hong moi ngay", "task_job"),
        ("Ban tai giup minh ung dung UltraViewer de minh ho tro tu xa nhe", "remote_app"),
        ("Chung toi ho tro lay lai tien bi lua dao 99%, phi dich vu thap", "refund_recovery"),
        (
            "Chuyen toan bo tien sang tai khoan tam giu cua co quan dieu tra de xac minh",
            "safe_account",
        ),
        ("CSGT thong bao xe cua ban bi phat nguoi, nop phat qua stk 123456789", "traffic_fine"),
    ],
)
def test_strong_signs(text: str, sign: str, rules: ScamRules) -> None:
    verdict = check(text, rules)
    assert sign in {f.id for f in verdict.found}, verdict.found
    assert verdict.scam


def test_one_weak_sign_is_not_a_verdict_two_are(rules: ScamRules) -> None:
    one = check("Link nay la gi vay bit.ly/3xYz", rules)
    assert not one.scam and [f.id for f in one.found] == ["shortener"]
    two = check("Chuc mung ban trung thuong, xem tai bit.ly/3xYz", rules)
    assert two.scam and {"shortener", "prize"} <= {f.id for f in two.found}


def test_official_links_are_not_signs(rules: ScamRules) -> None:
    for text in [
        "Nop ho so tai https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
        "Tra cuu phat nguoi tai csgt.bocongan.gov.vn",
        "Dang nhap ebank.vietcombank.com.vn",
        "Tai VNeID tai https://play.google.com/store/apps/details?id=com.vnid",
    ]:
        assert check(text, rules).found == (), text


def test_links_are_read_without_https() -> None:
    endings = {"vn", "com", "top"}
    hosts = [
        link.host for _, _, link in find_links("vao msb.vn-ms.top/a, hoi TP.HCM v.v.", endings)
    ]
    assert hosts == ["msb.vn-ms.top"]
    assert find_links("email abc@gmail.com", endings) == []
    assert find_links("so tien 1.000.000.000 dong", endings) == []
    assert registrable("ebank.vietcombank.com.vn", {"com.vn"}) == "vietcombank.com.vn"
    assert registrable("msb.vn-ms.top", {"com.vn"}) == "vn-ms.top"


def test_punycode_and_other_alphabets(rules: ScamRules) -> None:
    assert "encoded" in ids("Dang nhap tai https://xn--vietcmbank-5wb.com", rules)
    assert "encoded" in ids("Dang nhap tai https://vietcombаnk.com", rules)  # Cyrillic а
    assert check("Dang nhap tai https://xn--vietcmbank-5wb.com", rules).scam


def test_private_ip_is_not_a_sign(rules: ScamRules) -> None:
    assert check("vao 192.168.1.1 de doi mat khau wifi", rules).found == ()


def test_negation_needs_marks_to_agree(rules: ScamRules) -> None:
    # "đừng" is a negation; "dung" typed without marks is far more often "dùng", "dụng".
    assert "asks_code" not in ids("Đừng đọc mã OTP cho ai", rules)
    assert "asks_code" not in ids("khong doc ma OTP cho ai", rules)
    assert "asks_code" in ids("ung dung yeu cau doc ma OTP cho nhan vien", rules)
    # in a message typed with marks, a word without them has none: "anh" is not "ảnh"
    assert "debt_threat" not in ids("Bà con đăng ký với anh Hòa, tiền trả qua ngân hàng", rules)
    assert "debt_threat" in ids("Nếu không trả nợ hôm nay, tao đăng ảnh mày lên mạng", rules)


def test_phone_numbers(rules: ScamRules) -> None:
    verdict = check("0912 345 678", rules)
    assert verdict.phone_only and verdict.has_phone and not verdict.scam
    assert "contact_offchannel" in ids("Ket ban Zalo 0912345678 de duoc ho tro", rules)


def test_forwarded_and_link_detection(rules: ScamRules) -> None:
    assert has_link("vao vcb-vn.top nhe", rules)
    assert not has_link("Quên mật khẩu VNeID thì làm sao?", rules)
    assert looks_forwarded(
        "Quy khach da trung thuong chuong trinh tri an khach hang, vui long lien he tong dai", rules
    )
    assert not looks_forwarded("làm sao để cài VNeID trên điện thoại", rules)


def test_oversized_and_odd_input_never_crashes(rules: ScamRules) -> None:
    for text in ["", "   ", "a" * 100_000, "🙂" * 3000, "http://", "https://[::1]/x", "xn--.com"]:
        check(text, rules)


def test_without_rules_nothing_is_found() -> None:
    assert check("Vietcombank: vao vcb-vn.top", ScamRules()).found == ()


# --- patterns and the rules file ----------------------------------------------------------------


def test_patterns() -> None:
    pattern = compile_pattern("[cung cấp|đọc] * mã otp")
    assert pattern.find(read_words("vui long doc giup em ma OTP nhe")) is not None
    assert pattern.find(read_words("doc. ma OTP")) is None  # never across sentences
    assert compile_pattern("khoá").find(read_words("bị khóa")) is not None  # tone placement
    for bad in ["[a|b", "a]", "* a", "a *", "a * * b", "[a||b]", "a|b", "!!"]:
        with pytest.raises(PatternError):
            compile_pattern(bad)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT, folder)
    return folder


def test_bad_rules_are_reported_with_file_and_line(content: Path) -> None:
    path = content / "scam" / "signs.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace('"[cung cấp|đọc|', '"[cung cấp|đọc', 1)  # an unclosed bracket... of one
    text = text.replace("lesson: sk_report_scam", "lesson: khong_co_bai", 1)
    text = text.replace(
        "strength: weak\n    lesson: sk_spot_phishing\n    text: Giục",
        "strength: rat\n    lesson: sk_spot_phishing\n    text: Giục",
        1,
    )
    path.write_text(text + "  - id: asks_code\n    text: trùng\n    phrases: [a]\n", "utf-8")
    (content / "scam" / "domains.yaml").write_text(
        (content / "scam" / "domains.yaml")
        .read_text(encoding="utf-8")
        .replace("domains: [bidv.com.vn]", "domains: [https://bidv.com.vn/]", 1),
        "utf-8",
    )
    with pytest.raises(ContentError) as caught:
        load_snapshot(content)
    shown = [str(p) for p in caught.value.problems]
    assert any("content/scam/signs.yaml:" in p and "khong_co_bai" in p for p in shown), shown
    assert any("strong hoặc weak" in p for p in shown), shown
    assert any("trùng mã “asks_code”" in p for p in shown), shown
    assert any("content/scam/domains.yaml:" in p and "bidv.com.vn" in p for p in shown), shown
    assert all(p.split(":")[1].isdigit() for p in shown if "scam/" in p), shown


async def test_admins_add_a_pattern_and_it_is_live_after_reload(content: Path) -> None:
    store = ContentStore(content)
    text = "Nhan luong huu som 3 thang, lien he chi Lan de lam thu tuc"
    assert not check(text, store.current.scam).scam
    path = content / "scam" / "signs.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "  - id: pension_early\n    strength: strong\n"
        "    text: Hứa nhận lương hưu sớm.\n    phrases: [lương hưu sớm]\n",
        "utf-8",
    )
    assert await store.reload() == []
    assert check(text, store.current.scam).reasons == ["Hứa nhận lương hưu sớm."]
    # a broken edit is refused and the last good rules stay in service
    path.write_text(path.read_text(encoding="utf-8") + "    phrases: [\n", "utf-8")
    assert await store.reload() != []
    assert check(text, store.current.scam).scam


def test_content_without_scam_folder_still_loads(content: Path) -> None:
    shutil.rmtree(content / "scam")
    assert load_snapshot(content).scam.empty


def test_json_schemas_accept_the_bundled_files() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for name in ("signs", "domains"):
        schema = json.loads((CONTENT / "schema" / f"scam_{name}.schema.json").read_text("utf-8"))
        path = CONTENT / "scam" / f"{name}.yaml"
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../schema/scam_{name}.schema.json"
