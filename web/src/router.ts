import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router';
import { can, loadSession, session } from './stores/session';

declare module 'vue-router' {
  interface RouteMeta {
    /** The permission the page needs; without it the page is not offered. */
    needs?: string;
    /** Locale key of the page title. */
    title?: string;
    public?: boolean;
  }
}

/** Stable URLs (history routing): the server answers each with the app. */
export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/', redirect: '/docks' },
    { path: '/login', component: () => import('./pages/login/LoginPage.vue'), meta: { public: true, title: 'login.title' } },
    { path: '/docks', component: () => import('./pages/docks/DocksPage.vue'), meta: { needs: 'devices.read', title: 'nav.docks' } },
    { path: '/evidence', component: () => import('./pages/evidence/EvidenceSearch.vue'), meta: { needs: 'evidence.read', title: 'nav.evidence' } },
    { path: '/evidence/:id', component: () => import('./pages/evidence/EvidenceDetail.vue'), props: true, meta: { needs: 'evidence.read', title: 'evidence.detailTitle' } },
    { path: '/requests', component: () => import('./pages/requests/RequestsPage.vue'), meta: { needs: 'access.request', title: 'nav.requests' } },
    { path: '/flags', component: () => import('./pages/flags/FlagsPage.vue'), meta: { needs: 'compliance.read', title: 'flags.title' } },
    { path: '/cases', component: () => import('./pages/cases/CasesPage.vue'), meta: { needs: 'cases.read', title: 'cases.title' } },
    { path: '/cases/:id', component: () => import('./pages/cases/CaseDetail.vue'), props: true, meta: { needs: 'cases.read', title: 'cases.detailPageTitle' } },
    { path: '/users', component: () => import('./pages/users/UsersPage.vue'), meta: { needs: 'users.manage', title: 'users.title' } },
    { path: '/reports', component: () => import('./pages/reports/ReportsPage.vue'), meta: { needs: 'compliance.read', title: 'reports.title' } },
    { path: '/devices', component: () => import('./pages/devices/DevicesPage.vue'), meta: { needs: 'devices.read', title: 'devices.title' } },
    { path: '/exports', component: () => import('./pages/exports/ExportsPage.vue'), meta: { needs: 'cases.export', title: 'exports.title' } },
    { path: '/exports/:id/label/:copy', component: () => import('./pages/exports/DiscLabel.vue'), props: true, meta: { needs: 'cases.export', title: 'exports.labelTitle' } },
    { path: '/exports/:id/handover', component: () => import('./pages/exports/HandoverSheet.vue'), props: true, meta: { needs: 'cases.export', title: 'exports.handoverTitle' } },
    { path: '/password', component: () => import('./pages/password/PasswordPage.vue'), meta: { title: 'password.title' } },
    { path: '/ledger', component: () => import('./pages/ledger/LedgerPage.vue'), meta: { needs: 'ledger.read', title: 'ledger.title' } },
    { path: '/:rest(.*)*', component: () => import('./pages/NotFound.vue'), meta: { title: 'notFound.title' } },
  ],
});

/**
 * Where to go after signing in or changing the password: the page asked for (`?next=`),
 * only when it is one of the console's own paths (never another site: no "//host"),
 * else the first page the user may see.
 */
export function nextPage(query: Record<string, unknown>): string {
  const next = query.next;
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : home();
}

/** The first page a user may see. */
export function home(): string {
  if (can('devices.read')) return '/docks';
  if (can('evidence.read')) return '/evidence';
  return '/requests';
}

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (!session.checked) {
    try {
      await loadSession();
    } catch {
      // The API is unreachable: the sign-in page says so when it is tried.
    }
  }
  if (to.meta.public) return session.user && to.path === '/login' ? home() : true;
  if (!session.user) return { path: '/login', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  // A password someone else set is changed before anything else (the API answers nothing else).
  if (session.mustChangePassword && to.path !== '/password') return { path: '/password', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  if (to.meta.needs && !can(to.meta.needs)) return home() === to.path ? true : home();
  return true;
});
