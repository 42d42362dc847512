use super::*;
use aes::cipher::BlockEncryptMut;

const CONFIG: &str = "kind: EncryptionConfig
apiVersion: v1
resources:
  - resources:
      - secrets
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
      - aesgcm:
          keys:
            - name: g1
              secret: AAECAwQFBgcICQoLDA0ODw==
      - identity: {}
";

fn key32() -> Vec<u8> {
    (0u8..32).collect()
}

fn cbc_value(name: &str, plain: &[u8]) -> Vec<u8> {
    let iv = [7u8; 16];
    let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key32(), &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut v = format!("k8s:enc:aescbc:v1:{name}:").into_bytes();
    v.extend_from_slice(&iv);
    v.extend_from_slice(&ct);
    v
}

fn gcm_value(aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let key: Vec<u8> = (0u8..16).collect();
    let nonce = [9u8; 12];
    let ct = aes_gcm::Aes128Gcm::new_from_slice(&key)
        .unwrap()
        .encrypt(
            aes_gcm::Nonce::from_slice(&nonce),
            Payload { msg: plain, aad },
        )
        .unwrap();
    let mut v = b"k8s:enc:aesgcm:v1:g1:".to_vec();
    v.extend_from_slice(&nonce);
    v.extend_from_slice(&ct);
    v
}

#[test]
fn sniffs_every_kind() {
    assert_eq!(
        sniff(b"k8s:enc:aescbc:v1:key1:\x01\x02"),
        ValueKind::Encrypted {
            provider: "aescbc".into(),
            key_name: "key1".into()
        }
    );
    assert_eq!(sniff(b"k8s\0\x0a\x00"), ValueKind::Protobuf);
    assert_eq!(sniff(b"{\"kind\":\"Secret\"}"), ValueKind::Json);
    assert_eq!(sniff(b"k8s:enc:broken"), ValueKind::Raw);
    assert_eq!(sniff(b""), ValueKind::Raw);
    assert_eq!(
        json_kind(b"{\"kind\": \"ConfigMap\",\"apiVersion\":\"v1\"}").as_deref(),
        Some("ConfigMap")
    );
    assert_eq!(json_kind(b"{\"apiVersion\":\"v1\"}"), None);
}

#[test]
fn envelope_decodes_whole_and_cut_short() {
    // TypeMeta{apiVersion "v1", kind "Secret"}, raw "abc", contentType "application/vnd.kubernetes.protobuf".
    let mut v = b"k8s\0".to_vec();
    v.extend_from_slice(&[0x0a, 12, 0x0a, 2, b'v', b'1', 0x12, 6]);
    v.extend_from_slice(b"Secret");
    v.extend_from_slice(&[0x12, 3, b'a', b'b', b'c', 0x22, 2, b'p', b'b']);
    let env = decode_envelope(&v, false).unwrap();
    assert_eq!(env.api_version, "v1");
    assert_eq!(env.kind, "Secret");
    assert_eq!(env.raw, b"abc");
    assert_eq!(env.content_type, "pb");
    assert_eq!(kind_of(&v).as_deref(), Some("Secret"));
    let cut = &v[..v.len() - 6];
    assert!(decode_envelope(cut, false).is_err());
    assert_eq!(decode_envelope(cut, true).unwrap().kind, "Secret");
}

#[test]
fn aescbc_and_aesgcm_decrypt_with_the_configured_keys() {
    let keys = EncryptionKeys::parse(CONFIG).unwrap();
    let plain = b"k8s\0secret payload that spans more than one block";
    assert_eq!(
        decrypt(&cbc_value("key1", plain), b"/any", &keys).unwrap(),
        plain
    );
    let aad = b"/kubernetes.io/secrets/p/s";
    assert_eq!(decrypt(&gcm_value(aad, plain), aad, &keys).unwrap(), plain);
    // GCM binds the value to its etcd key.
    let err = decrypt(&gcm_value(aad, plain), b"/elsewhere", &keys).unwrap_err();
    assert!(matches!(err, DecryptError::Failed { .. }), "{err}");
    let err = decrypt(&cbc_value("key2", plain), b"/any", &keys).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no aescbc key named key2 in the encryption configuration"
    );
    let mut damaged = cbc_value("key1", plain);
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    assert!(decrypt(&damaged, b"/any", &keys).is_err());
    assert!(decrypt(&cbc_value("key1", plain)[..30], b"/any", &keys).is_err());
}

#[test]
fn kms_and_secretbox_say_they_cannot_be_decrypted_offline() {
    let keys = EncryptionKeys::parse(CONFIG).unwrap();
    for p in ["kms", "secretbox"] {
        let v = format!("k8s:enc:{p}:v1:k:xxxxxxxx");
        let err = decrypt(v.as_bytes(), b"/k", &keys).unwrap_err().to_string();
        assert!(err.contains("cannot be decrypted offline"), "{err}");
    }
    assert_eq!(
        decrypt(b"{}", b"/k", &keys).unwrap_err(),
        DecryptError::NotEncrypted
    );
}

#[test]
fn config_errors_and_debug_never_show_secrets() {
    let keys = EncryptionKeys::parse(CONFIG).unwrap();
    let dbg = format!("{keys:?}");
    assert!(!dbg.contains("AAECAw") && dbg.contains("key1"), "{dbg}");
    let short = CONFIG.replace("AAECAwQFBgcICQoLDA0ODw==", "c2hvcnQ=");
    let err = EncryptionKeys::parse(&short).unwrap_err();
    assert!(err.contains("key g1") && !err.contains("c2hvcnQ"), "{err}");
    assert!(EncryptionKeys::parse("resources: 3").is_err());
}
