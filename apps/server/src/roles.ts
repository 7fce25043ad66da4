/**
 * Operator roles. 等保 2.0 asks for three separated administrators (三员): the system administrator
 * (系统管理员: installation, configuration, accounts — `admin`), the security administrator (安全管理员:
 * approves applications, revokes — `security-admin`) and the audit administrator (审计管理员: reads and
 * verifies the audit trail only — `auditor`). `ra` is a registration-authority operator who may review
 * applications too. Only the checks below use roles so far; a full separation (who may do what, that no
 * account holds two of the three) builds on these names.
 */

/** The role names an account may hold. */
export const OPERATOR_ROLES = ['admin', 'security-admin', 'auditor', 'ra'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Who may approve or reject certificate applications. */
export const REVIEW_ROLES: readonly OperatorRole[] = ['security-admin', 'ra'];
/** Who may read and verify the audit log. */
export const AUDIT_ROLES: readonly OperatorRole[] = ['admin', 'auditor'];
