//! Delegated administration rules: which administrator may act on which unit.
//!
//! An administrator holds roles over units ([`Grant`]); a grant over a unit covers that unit and
//! every unit below it (city → department or district → commune). Objects without a unit
//! (clients registered before units existed, service users) belong to the administrators of the
//! root of the tree: the one top-level unit when there is exactly one. With several top-level
//! units (two cities sharing a provider) no administrator reaches them through the API: each
//! city would otherwise manage the other's unit-less objects. These functions are pure: the
//! caller loads the grants and the unit tree.

use std::collections::{BTreeSet, HashMap};

use tessera_store::units::Unit;

/// The scope an access token must carry to call the administration API. Only consoles pinned
/// by the operator get it (`tessera client add --admin-console`).
pub const ADMIN_SCOPE: &str = "tessera:admin";

/// How recent a level-2 authentication must be to administer: to approve a console's request
/// for [`ADMIN_SCOPE`], and for each page of the built-in console (seconds).
pub const ADMIN_AUTH_MAX_AGE: i64 = 900;

/// Administrative roles. Application roles (the `roles` claim) are a different thing and may
/// not use these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminRole {
    /// Units, users, clients and role grants.
    Admin,
    /// Users' credentials and certificates (PKI endpoints).
    CertAdmin,
    /// Read-only view of units, users and clients.
    Auditor,
}

impl AdminRole {
    pub const ALL: [AdminRole; 3] = [AdminRole::Admin, AdminRole::CertAdmin, AdminRole::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::CertAdmin => "cert_admin",
            AdminRole::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<AdminRole> {
        AdminRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role allows `perm`.
    pub fn allows(self, perm: Permission) -> bool {
        matches!(
            (self, perm),
            (_, Permission::Read)
                | (AdminRole::Admin, Permission::Manage)
                | (AdminRole::CertAdmin, Permission::Credentials)
        )
    }

    /// Whether holding `self` means holding `other` too, for the purpose of handing it on:
    /// an administrator may appoint auditors, but not certificate administrators.
    pub fn includes(self, other: AdminRole) -> bool {
        self == other || (self == AdminRole::Admin && other == AdminRole::Auditor)
    }
}

/// What an action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See units, users, clients (every administrative role).
    Read,
    /// Change units, users, clients and grants (`admin`).
    Manage,
    /// Issue and revoke credentials and certificates (`cert_admin`).
    Credentials,
}

/// A role held over a unit and its descendants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: AdminRole,
    pub unit_id: String,
}

/// The organisation tree, by parent links.
#[derive(Clone, Debug, Default)]
pub struct UnitTree {
    parent: HashMap<String, Option<String>>,
    children: HashMap<String, Vec<String>>,
}

impl UnitTree {
    pub fn new(units: &[Unit]) -> UnitTree {
        let mut tree = UnitTree::default();
        for u in units {
            tree.parent.insert(u.id.clone(), u.parent_id.clone());
            if let Some(parent) = &u.parent_id {
                tree.children
                    .entry(parent.clone())
                    .or_default()
                    .push(u.id.clone());
            }
        }
        tree
    }

    pub fn contains(&self, unit: &str) -> bool {
        self.parent.contains_key(unit)
    }

    /// A unit with no parent (a city or province).
    pub fn is_top(&self, unit: &str) -> bool {
        matches!(self.parent.get(unit), Some(None))
    }

    /// The root of the tree: the only top-level unit, or `None` when there are several (or
    /// none).
    pub fn root(&self) -> Option<&str> {
        let mut tops = self
            .parent
            .iter()
            .filter(|(_, up)| up.is_none())
            .map(|(id, _)| id.as_str());
        match (tops.next(), tops.next()) {
            (Some(root), None) => Some(root),
            _ => None,
        }
    }

    /// Whether `unit` is `ancestor` or lies below it. Unknown units are within nothing; the walk
    /// is bounded by the tree's size, so a corrupt cycle cannot loop.
    pub fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        let mut cursor = unit;
        for _ in 0..=self.parent.len() {
            if !self.contains(cursor) {
                return false;
            }
            if cursor == ancestor {
                return true;
            }
            match self.parent.get(cursor) {
                Some(Some(up)) => cursor = up,
                _ => return false,
            }
        }
        false
    }

    /// `root` and every unit below it, root first (breadth-first).
    pub fn subtree(&self, root: &str) -> Vec<String> {
        if !self.contains(root) {
            return Vec::new();
        }
        let mut out = vec![root.to_owned()];
        let mut seen: BTreeSet<String> = out.iter().cloned().collect();
        let mut i = 0;
        while i < out.len() {
            let kids = self.children.get(&out[i]).cloned().unwrap_or_default();
            for kid in kids {
                if seen.insert(kid.clone()) {
                    out.push(kid);
                }
            }
            i += 1;
        }
        out
    }

    pub fn children_of(&self, unit: &str) -> &[String] {
        self.children.get(unit).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// An authenticated administrator: who they are and what they hold.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub grants: Vec<Grant>,
    pub tree: UnitTree,
}

impl Actor {
    /// Whether the actor may do `perm` on an object of `unit` (`None`: an object without a
    /// unit, which only administrators of the tree's root reach).
    pub fn may(&self, perm: Permission, unit: Option<&str>) -> bool {
        match unit {
            Some(unit) => self
                .grants
                .iter()
                .any(|g| g.role.allows(perm) && self.tree.is_within(unit, &g.unit_id)),
            None => self.holds_root(perm),
        }
    }

    /// Holds `perm` over the root of the unit tree (see [`UnitTree::root`]): the right to
    /// objects that belong to no unit.
    pub fn holds_root(&self, perm: Permission) -> bool {
        let Some(root) = self.tree.root() else {
            return false;
        };
        self.grants
            .iter()
            .any(|g| g.role.allows(perm) && g.unit_id == root)
    }

    /// The granted units for `perm` that no other such grant already covers.
    pub fn scope_roots(&self, perm: Permission) -> Vec<String> {
        let units: BTreeSet<&str> = self
            .grants
            .iter()
            .filter(|g| g.role.allows(perm) && self.tree.contains(&g.unit_id))
            .map(|g| g.unit_id.as_str())
            .collect();
        units
            .iter()
            .filter(|u| {
                !units
                    .iter()
                    .any(|other| other != *u && self.tree.is_within(u, other))
            })
            .map(|u| (*u).to_owned())
            .collect()
    }

    /// Every unit the actor may do `perm` on.
    pub fn scope_units(&self, perm: Permission) -> Vec<String> {
        self.scope_roots(perm)
            .iter()
            .flat_map(|root| self.tree.subtree(root))
            .collect()
    }

    /// Whether the actor may hand `role` over `unit` to someone (or take it away): they must
    /// administer `unit` and hold `role` (or a role including it) over it themselves, so no
    /// one can give out more than they have.
    pub fn may_grant(&self, role: AdminRole, unit: &str) -> bool {
        self.may(Permission::Manage, Some(unit))
            && self
                .grants
                .iter()
                .any(|g| g.role.includes(role) && self.tree.is_within(unit, &g.unit_id))
    }

    /// Whether every right of a user holding `grants` is also the actor's, so that managing
    /// that user's account (password reset, disabling, moving) cannot lift the actor above
    /// their own rights.
    pub fn outranks(&self, grants: &[Grant]) -> bool {
        grants.iter().all(|g| self.may_grant(g.role, &g.unit_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, parent: Option<&str>) -> Unit {
        Unit {
            id: id.into(),
            name: id.into(),
            parent_id: parent.map(str::to_owned),
            level: "unit".into(),
            created_at: 0,
        }
    }

    /// hp (city) → noivu, tuphap (departments), lechan (district) → an_bien (commune);
    /// dn: another city.
    fn tree() -> UnitTree {
        UnitTree::new(&[
            unit("hp", None),
            unit("noivu", Some("hp")),
            unit("tuphap", Some("hp")),
            unit("lechan", Some("hp")),
            unit("an_bien", Some("lechan")),
            unit("dn", None),
        ])
    }

    fn actor(grants: &[(AdminRole, &str)]) -> Actor {
        Actor {
            user_id: "me".into(),
            username: "me".into(),
            grants: grants
                .iter()
                .map(|(role, unit)| Grant {
                    role: *role,
                    unit_id: (*unit).to_owned(),
                })
                .collect(),
            tree: tree(),
        }
    }

    use AdminRole::{Admin, Auditor, CertAdmin};
    use Permission::{Credentials, Manage, Read};

    #[test]
    fn descendants_are_within_and_siblings_are_not() {
        let t = tree();
        assert!(t.is_within("an_bien", "hp"));
        assert!(t.is_within("an_bien", "lechan"));
        assert!(t.is_within("noivu", "noivu"));
        assert!(!t.is_within("noivu", "tuphap"));
        assert!(
            !t.is_within("hp", "noivu"),
            "a parent is not within its child"
        );
        assert!(!t.is_within("an_bien", "dn"));
        assert!(
            !t.is_within("ghost", "hp"),
            "unknown units are within nothing"
        );
        assert!(!t.is_within("hp", "ghost"));
        assert!(t.is_top("hp") && !t.is_top("noivu") && !t.is_top("ghost"));
        assert_eq!(t.subtree("lechan"), vec!["lechan", "an_bien"]);
        assert_eq!(t.subtree("hp").len(), 5);
        assert!(t.subtree("ghost").is_empty());
    }

    #[test]
    fn a_cycle_in_corrupt_data_does_not_loop() {
        let t = UnitTree::new(&[unit("a", Some("b")), unit("b", Some("a"))]);
        assert!(!t.is_within("a", "c"));
        assert_eq!(t.subtree("a").len(), 2);
    }

    #[test]
    fn department_admin_is_confined_to_the_department() {
        let a = actor(&[(Admin, "noivu")]);
        assert!(a.may(Manage, Some("noivu")));
        assert!(a.may(Read, Some("noivu")));
        assert!(!a.may(Manage, Some("tuphap")));
        assert!(!a.may(Read, Some("tuphap")));
        assert!(!a.may(Manage, Some("hp")), "no rights upwards");
        assert!(
            !a.may(Manage, None),
            "unit-less objects are top-level business"
        );
        assert!(
            !a.may(Credentials, Some("noivu")),
            "admin is not cert_admin"
        );
        assert_eq!(a.scope_units(Manage), vec!["noivu"]);
    }

    #[test]
    fn city_admin_reaches_every_descendant_but_not_another_city() {
        let a = actor(&[(Admin, "hp")]);
        assert!(a.may(Manage, Some("an_bien")));
        assert!(!a.may(Manage, Some("dn")));
        let mut units = a.scope_units(Manage);
        units.sort();
        assert_eq!(units, vec!["an_bien", "hp", "lechan", "noivu", "tuphap"]);
    }

    /// With one city, its administrators own the objects without a unit.
    fn single_city_actor(grants: &[(AdminRole, &str)]) -> Actor {
        let mut a = actor(grants);
        a.tree = UnitTree::new(&[
            unit("hp", None),
            unit("noivu", Some("hp")),
            unit("lechan", Some("hp")),
        ]);
        a
    }

    #[test]
    fn unitless_objects_belong_to_the_single_root_only() {
        assert_eq!(tree().root(), None, "two cities: no root");
        // Two cities share the provider: neither reaches the objects without a unit.
        for city in ["hp", "dn"] {
            let a = actor(&[(Admin, city)]);
            assert!(
                !a.may(Manage, None),
                "{city} must not manage unit-less objects"
            );
            assert!(!a.may(Read, None), "{city} must not see unit-less objects");
        }
        let dn = actor(&[(Admin, "dn")]);
        assert!(!dn.may(Read, Some("noivu")), "nor the other city's units");
        // One city: its root administrators do, a department's do not.
        let city = single_city_actor(&[(Admin, "hp")]);
        assert_eq!(city.tree.root(), Some("hp"));
        assert!(city.may(Manage, None));
        assert!(city.holds_root(Read));
        let dept = single_city_actor(&[(Admin, "noivu")]);
        assert!(!dept.may(Manage, None));
        let auditor = single_city_actor(&[(Auditor, "hp")]);
        assert!(auditor.may(Read, None) && !auditor.may(Manage, None));
    }

    #[test]
    fn overlapping_grants_give_one_root() {
        let a = actor(&[(Admin, "lechan"), (Admin, "an_bien"), (Auditor, "hp")]);
        assert_eq!(a.scope_roots(Manage), vec!["lechan"]);
        assert_eq!(a.scope_roots(Read), vec!["hp"]);
        assert!(a.may(Read, Some("tuphap")));
        assert!(!a.may(Manage, Some("tuphap")));
    }

    #[test]
    fn auditor_and_cert_admin_are_limited() {
        let a = actor(&[(Auditor, "hp"), (CertAdmin, "noivu")]);
        assert!(a.may(Read, Some("noivu")));
        assert!(!a.may(Manage, Some("noivu")));
        assert!(a.may(Credentials, Some("noivu")));
        assert!(!a.may(Credentials, Some("tuphap")));
        assert!(!a.may_grant(Auditor, "noivu"), "only administrators grant");
    }

    #[test]
    fn no_one_grants_beyond_their_scope_or_their_roles() {
        let a = actor(&[(Admin, "lechan")]);
        assert!(a.may_grant(Admin, "lechan"));
        assert!(a.may_grant(Admin, "an_bien"));
        assert!(a.may_grant(Auditor, "an_bien"), "admin includes auditor");
        assert!(
            !a.may_grant(Admin, "hp"),
            "wider than the actor's own scope"
        );
        assert!(!a.may_grant(Admin, "noivu"), "a sibling unit");
        assert!(!a.may_grant(CertAdmin, "lechan"), "a role the actor lacks");
        assert!(!a.may_grant(Admin, "ghost"));
        let b = actor(&[(Admin, "hp"), (CertAdmin, "lechan")]);
        assert!(b.may_grant(CertAdmin, "an_bien"));
        assert!(!b.may_grant(CertAdmin, "noivu"));
    }

    #[test]
    fn managing_a_more_powerful_account_is_refused() {
        let dept = actor(&[(Admin, "lechan")]);
        let peer = [Grant {
            role: Admin,
            unit_id: "an_bien".into(),
        }];
        assert!(dept.outranks(&peer));
        assert!(dept.outranks(&[]), "a user without grants");
        let city_admin = [Grant {
            role: Admin,
            unit_id: "hp".into(),
        }];
        assert!(!dept.outranks(&city_admin));
        let cert = [Grant {
            role: CertAdmin,
            unit_id: "an_bien".into(),
        }];
        assert!(
            !dept.outranks(&cert),
            "resetting a cert_admin's password would hand over cert_admin rights"
        );
    }

    #[test]
    fn role_names_round_trip() {
        for role in AdminRole::ALL {
            assert_eq!(AdminRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(AdminRole::parse("root"), None);
    }
}
