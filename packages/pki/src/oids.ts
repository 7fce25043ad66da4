/**
 * Object identifiers used by medsign's PKI formats, as dotted strings. GM/T arcs from GM/T 0006 /
 * GB/T 33560 and GM/T 0010 (gm-standards.md §1); the rest from the RFCs named beside each group.
 */

// --- GM/T 0006: SM algorithms (arc 1.2.156.10197.1)
export const id_sm3 = '1.2.156.10197.1.401';
export const id_hmac_sm3 = '1.2.156.10197.1.401.2';
export const id_sm2p256v1 = '1.2.156.10197.1.301';
/** GM/T 0010 `digestEncryptionAlgorithm` "sm2-1" (SM2 signature); accepted wherever 501 is. */
export const id_sm2_1 = '1.2.156.10197.1.301.1';
export const id_sm2_3 = '1.2.156.10197.1.301.3';
export const id_sm2_with_sm3 = '1.2.156.10197.1.501';
export const id_sm4_cbc = '1.2.156.10197.1.104.2';

// --- GM/T 0010 / GB/T 35275 CMS content types (arc 1.2.156.10197.6.1.4.2)
export const id_gm_data = '1.2.156.10197.6.1.4.2.1';
export const id_gm_signedData = '1.2.156.10197.6.1.4.2.2';
export const id_gm_envelopedData = '1.2.156.10197.6.1.4.2.3';

// --- RFC 3279 / 4055 / 5758: RSA and ECDSA
export const id_rsaEncryption = '1.2.840.113549.1.1.1';
export const id_RSASSA_PSS = '1.2.840.113549.1.1.10';
export const id_mgf1 = '1.2.840.113549.1.1.8';
export const id_sha256WithRSAEncryption = '1.2.840.113549.1.1.11';
export const id_sha384WithRSAEncryption = '1.2.840.113549.1.1.12';
export const id_sha512WithRSAEncryption = '1.2.840.113549.1.1.13';
export const id_ecPublicKey = '1.2.840.10045.2.1';
export const id_prime256v1 = '1.2.840.10045.3.1.7';
export const id_secp384r1 = '1.3.132.0.34';
export const id_ecdsa_with_SHA256 = '1.2.840.10045.4.3.2';
export const id_ecdsa_with_SHA384 = '1.2.840.10045.4.3.3';
export const id_ecdsa_with_SHA512 = '1.2.840.10045.4.3.4';

// --- NIST hashes
export const id_sha1 = '1.3.14.3.2.26';
export const id_sha256 = '2.16.840.1.101.3.4.2.1';
export const id_sha384 = '2.16.840.1.101.3.4.2.2';
export const id_sha512 = '2.16.840.1.101.3.4.2.3';

// --- RFC 5280 name attributes
export const id_at_commonName = '2.5.4.3';
export const id_at_surname = '2.5.4.4';
export const id_at_serialNumber = '2.5.4.5';
export const id_at_countryName = '2.5.4.6';
export const id_at_localityName = '2.5.4.7';
export const id_at_stateOrProvinceName = '2.5.4.8';
export const id_at_streetAddress = '2.5.4.9';
export const id_at_organizationName = '2.5.4.10';
export const id_at_organizationalUnitName = '2.5.4.11';
export const id_at_title = '2.5.4.12';
export const id_at_givenName = '2.5.4.42';
export const id_emailAddress = '1.2.840.113549.1.9.1';
export const id_domainComponent = '0.9.2342.19200300.100.1.25';
export const id_userId = '0.9.2342.19200300.100.1.1';

// --- RFC 5280 extensions
export const id_ce_subjectKeyIdentifier = '2.5.29.14';
export const id_ce_keyUsage = '2.5.29.15';
export const id_ce_subjectAltName = '2.5.29.17';
export const id_ce_issuerAltName = '2.5.29.18';
export const id_ce_basicConstraints = '2.5.29.19';
export const id_ce_cRLNumber = '2.5.29.20';
export const id_ce_cRLReasons = '2.5.29.21';
export const id_ce_invalidityDate = '2.5.29.24';
export const id_ce_deltaCRLIndicator = '2.5.29.27';
export const id_ce_issuingDistributionPoint = '2.5.29.28';
export const id_ce_certificateIssuer = '2.5.29.29';
export const id_ce_nameConstraints = '2.5.29.30';
export const id_ce_cRLDistributionPoints = '2.5.29.31';
export const id_ce_certificatePolicies = '2.5.29.32';
export const id_ce_policyMappings = '2.5.29.33';
export const id_ce_authorityKeyIdentifier = '2.5.29.35';
export const id_ce_policyConstraints = '2.5.29.36';
export const id_ce_extKeyUsage = '2.5.29.37';
export const id_ce_freshestCRL = '2.5.29.46';
export const id_ce_inhibitAnyPolicy = '2.5.29.54';
export const id_pe_authorityInfoAccess = '1.3.6.1.5.5.7.1.1';
export const id_pe_subjectInfoAccess = '1.3.6.1.5.5.7.1.11';
export const id_ad_ocsp = '1.3.6.1.5.5.7.48.1';
export const id_ad_caIssuers = '1.3.6.1.5.5.7.48.2';
export const anyPolicy = '2.5.29.32.0';
export const id_qt_cps = '1.3.6.1.5.5.7.2.1';

// --- RFC 5280 extended key usages
export const anyExtendedKeyUsage = '2.5.29.37.0';
export const id_kp_serverAuth = '1.3.6.1.5.5.7.3.1';
export const id_kp_clientAuth = '1.3.6.1.5.5.7.3.2';
export const id_kp_codeSigning = '1.3.6.1.5.5.7.3.3';
export const id_kp_emailProtection = '1.3.6.1.5.5.7.3.4';
export const id_kp_timeStamping = '1.3.6.1.5.5.7.3.8';
export const id_kp_OCSPSigning = '1.3.6.1.5.5.7.3.9';

// --- GM/T 0015 identity extensions (gm-standards.md §1.4)
/** GM/T 0015-2012 IdentityCode (CHOICE of ID card / officer card / passport number). */
export const id_gmt0015_identityCode = '1.2.156.10260.4.1.1';
/** GM/T 0015-2012 InsuranceNumber; GM/T 0015-2023 Social Insurance Number. */
export const id_gmt0015_insuranceNumber = '1.2.156.10260.4.1.2';
export const id_gmt0015_icRegistrationNumber = '1.2.156.10260.4.1.3';
export const id_gmt0015_organizationCode = '1.2.156.10260.4.1.4';
export const id_gmt0015_taxationNumber = '1.2.156.10260.4.1.5';
/** GM/T 0015-2023 Resident Identity Card Number. */
export const id_gmt0015_residentIdCard = '1.2.156.10260.4.1.1.1';
/** GM/T 0015-2023 Passport Number. */
export const id_gmt0015_passportNumber = '1.2.156.10260.4.1.1.2';
/**
 * GM/T 0015-2023 Unified Social Credit Code (统一社会信用代码). UNCONFIRMED [U]: single source (XiPKI);
 * many field readers use 4.1.4 instead (gm-standards.md §1.4, §11). Read it, but prefer not to rely on it.
 */
export const id_gmt0015_unifiedSocialCreditCode = '1.2.156.10260.4.4';

// --- RFC 5652 CMS content types and attributes; RFC 3161 (TSP), RFC 2634 / 5035 (ESS), RFC 6211
export const id_data = '1.2.840.113549.1.7.1';
export const id_signedData = '1.2.840.113549.1.7.2';
export const id_contentType = '1.2.840.113549.1.9.3';
export const id_messageDigest = '1.2.840.113549.1.9.4';
export const id_signingTime = '1.2.840.113549.1.9.5';
export const id_ct_TSTInfo = '1.2.840.113549.1.9.16.1.4';
export const id_aa_signingCertificate = '1.2.840.113549.1.9.16.2.12';
export const id_aa_timeStampToken = '1.2.840.113549.1.9.16.2.14';
export const id_aa_signingCertificateV2 = '1.2.840.113549.1.9.16.2.47';
export const id_aa_cmsAlgorithmProtect = '1.2.840.113549.1.9.52';

// --- PKCS #9 (RFC 2985) CSR attributes; RFC 6960 OCSP
export const id_pkcs9_challengePassword = '1.2.840.113549.1.9.7';
export const id_pkcs9_extensionRequest = '1.2.840.113549.1.9.14';
export const id_pkix_ocsp_basic = '1.3.6.1.5.5.7.48.1.1';
export const id_pkix_ocsp_nonce = '1.3.6.1.5.5.7.48.1.2';
export const id_pkix_ocsp_nocheck = '1.3.6.1.5.5.7.48.1.5';

// --- RFC 8018 (PKCS #5 v2.1) password-based encryption; RFC 7914 scrypt; RFC 9579 PBMAC1
export const id_PBES2 = '1.2.840.113549.1.5.13';
export const id_PBKDF2 = '1.2.840.113549.1.5.12';
export const id_PBMAC1 = '1.2.840.113549.1.5.14';
export const id_scrypt = '1.3.6.1.4.1.11591.4.11';
export const id_hmacWithSHA1 = '1.2.840.113549.2.7';
export const id_hmacWithSHA224 = '1.2.840.113549.2.8';
export const id_hmacWithSHA256 = '1.2.840.113549.2.9';
export const id_hmacWithSHA384 = '1.2.840.113549.2.10';
export const id_hmacWithSHA512 = '1.2.840.113549.2.11';
export const id_aes128_CBC = '2.16.840.1.101.3.4.1.2';
export const id_aes192_CBC = '2.16.840.1.101.3.4.1.22';
export const id_aes256_CBC = '2.16.840.1.101.3.4.1.42';
export const id_des_ede3_cbc = '1.2.840.113549.3.7';

// --- RFC 7292 (PKCS #12 v1.1): PBE schemes, bag types, PKCS #9 bag attributes
export const id_pbeWithSHAAnd128BitRC4 = '1.2.840.113549.1.12.1.1';
export const id_pbeWithSHAAnd40BitRC4 = '1.2.840.113549.1.12.1.2';
export const id_pbeWithSHAAnd3_KeyTripleDES_CBC = '1.2.840.113549.1.12.1.3';
export const id_pbeWithSHAAnd2_KeyTripleDES_CBC = '1.2.840.113549.1.12.1.4';
export const id_pbeWithSHAAnd128BitRC2_CBC = '1.2.840.113549.1.12.1.5';
export const id_pbewithSHAAnd40BitRC2_CBC = '1.2.840.113549.1.12.1.6';
export const id_pkcs12_keyBag = '1.2.840.113549.1.12.10.1.1';
export const id_pkcs12_pkcs8ShroudedKeyBag = '1.2.840.113549.1.12.10.1.2';
export const id_pkcs12_certBag = '1.2.840.113549.1.12.10.1.3';
export const id_pkcs12_crlBag = '1.2.840.113549.1.12.10.1.4';
export const id_pkcs12_secretBag = '1.2.840.113549.1.12.10.1.5';
export const id_pkcs12_safeContentsBag = '1.2.840.113549.1.12.10.1.6';
export const id_pkcs9_friendlyName = '1.2.840.113549.1.9.20';
export const id_pkcs9_localKeyId = '1.2.840.113549.1.9.21';
export const id_pkcs9_x509Certificate = '1.2.840.113549.1.9.22.1';
export const id_encryptedData = '1.2.840.113549.1.7.6';
export const id_envelopedData = '1.2.840.113549.1.7.3';
