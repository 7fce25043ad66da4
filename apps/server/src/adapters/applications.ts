/**
 * The CA core's ApplicationStore on @medsign/store, with the search the HTTP API and the CLI list from.
 * Personal fields are sealed on the way in and opened on the way out (personal-data.ts); callers show
 * them masked only.
 */

import type { Application, ApplicationState, ApplicationStore, Review } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import type { PersonalDataCipher } from '@medsign/keystore';
import { StoreError, type ApplicationQuery, type ApplicationRecord, type Store } from '@medsign/store';
import { applicationContext, openApplicant, sealApplicant } from './personal-data.js';

/** Search filters in the API's terms: the ID number in clear (hashed here, never stored or logged). */
export type ApplicationSearch = Omit<ApplicationQuery, 'idNumberIndex'> & { idNumber?: string };

export class StoreApplicationStore implements ApplicationStore {
  readonly #store: Store;
  readonly #personal: PersonalDataCipher;

  constructor(store: Store, personal: PersonalDataCipher) {
    this.#store = store;
    this.#personal = personal;
  }

  async insert(a: Application): Promise<void> {
    try {
      await this.#store.applications.insert({
        id: a.id,
        profile: a.profileId,
        state: a.state,
        name: a.applicant.name,
        employeeNo: a.applicant.employeeNo?.trim() || null,
        department: a.applicant.department ?? null,
        personal: sealApplicant(this.#personal, a.applicant, applicationContext(a.id)),
        key: a.key,
        caId: a.caId ?? null,
        validityDays: a.validityDays ?? null,
        submittedBy: a.submittedBy,
        submittedAt: a.submittedAt,
        review: a.review ? { by: a.review.by, at: a.review.at, reason: a.review.reason ?? null } : null,
        certificate: a.certificate ?? null,
      });
    } catch (e) {
      if (e instanceof StoreError && e.code === 'conflict')
        throw new DomainError(
          'CA_APPLICATION_DUPLICATE',
          `an application of employee ${a.applicant.employeeNo} for profile ${a.profileId} is already pending`,
          { cause: e },
        );
      throw e;
    }
  }

  async get(id: string): Promise<Application | undefined> {
    const r = await this.#store.applications.get(id);
    return r && this.#toApplication(r);
  }

  findOpen(employeeNo: string, profileId: string): Promise<string | undefined> {
    return this.#store.applications.findOpen(employeeNo, profileId);
  }

  transition(
    id: string,
    from: ApplicationState,
    to: ApplicationState,
    review: Review | null,
  ): Promise<boolean> {
    if (to === 'issued') throw new RangeError('an application becomes issued only with its certificate');
    return this.#store.applications.transition(id, from, to, review);
  }

  /** Search, newest first; an ID number is matched through its keyed hash. */
  async search(q: ApplicationSearch): Promise<{ total: number; items: Application[] }> {
    const { idNumber, ...rest } = q;
    const page = await this.#store.applications.search({
      ...rest,
      ...(idNumber !== undefined ? { idNumberIndex: this.#personal.index('idNumber', idNumber) } : {}),
    });
    return { total: page.total, items: page.items.map((r) => this.#toApplication(r)) };
  }

  #toApplication(r: ApplicationRecord): Application {
    const applicant = openApplicant(this.#personal, r.personal, applicationContext(r.id));
    applicant.name = r.name;
    if (r.employeeNo !== null) applicant.employeeNo = r.employeeNo;
    if (r.department !== null) applicant.department = r.department;
    return {
      id: r.id,
      profileId: r.profile,
      applicant,
      key: r.key,
      ...(r.caId !== null ? { caId: r.caId } : {}),
      ...(r.validityDays !== null ? { validityDays: r.validityDays } : {}),
      state: r.state,
      submittedBy: r.submittedBy,
      submittedAt: r.submittedAt,
      ...(r.review
        ? {
            review: {
              by: r.review.by,
              at: r.review.at,
              ...(r.review.reason ? { reason: r.review.reason } : {}),
            },
          }
        : {}),
      ...(r.certificate ? { certificate: r.certificate } : {}),
    };
  }
}
